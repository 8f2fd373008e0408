"""The scale-out profile (ENCORE_EXECUTOR=celery): the registry's jobs on Celery workers, their
ticks fired by one Celery beat holding the RedBeat lock in Redis."""
