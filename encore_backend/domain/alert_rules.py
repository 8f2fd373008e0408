"""PLACEHOLDER: alert rules (SPEC §7); the alerts engineer completes this module."""

from __future__ import annotations

# Rule ids a venue may switch off (venue_settings.alert_rules_disabled).
ALERT_RULE_IDS = (
    "critical_keyword",
    "hygiene_keyword",
    "conduct_keyword",
    "rating",
    "high_value_customer",
    "repeated_complaint",
    "custom_keyword",
)
