"""The Redshift tiers: the wire rig (PostgreSQL behind PgBouncer, tests/redshift_rig.py) and the
live tier against a real cluster (test_redshift_live.py, skipped unless configured)."""
