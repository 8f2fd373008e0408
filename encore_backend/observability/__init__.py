"""Metrics (Prometheus) and structured logs for the engine."""
