"""The serverless profile: AWS Lambda functions fired by EventBridge Scheduler (SPEC §1, §9).

`encore_backend.lambda_handler` is the entry module; this package holds its parts: the event
check, the invocation's bounds, the warm container, the HTTP adapter and the schedules.
"""
