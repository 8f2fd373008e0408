"""DynamoDB adapters of the derived-document ports (`ENCORE_DERIVED_STORE=dynamodb`).

Feedback, venues, customers, tokens, run records and rate-limit slots stay in SQL in every
profile; these tables hold the documents of SPEC §6 that are derived from them.
"""
