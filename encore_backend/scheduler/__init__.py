"""Scheduling: the job registry, the run recorder and the engine bindings (APScheduler, Celery)."""
