"""One module per job id; each exposes `run(ctx, now, **params) -> JobResult`."""
