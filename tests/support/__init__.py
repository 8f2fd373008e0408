"""Small real servers for tests (SMTP with injected faults, chat completions, moto, …)."""
