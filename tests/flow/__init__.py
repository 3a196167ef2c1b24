"""Flows run through a temporary Prefect server (the prefect_server fixture,
prefect_test_harness)."""
