"""Encore automation engine."""
