"""Pure domain: enums, rules and time windows. Imports no framework."""
