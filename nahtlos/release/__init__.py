"""Release mechanics the flow composes: live state, canary steps, baking, promotion, rollback.

Every function here is Prefect-free and idempotent, and reads what is live from
the platform instead of trusting a caller's memory.
"""
