"""A real Prefect stack in processes (tests/prefect_stack.py): `prefect server start`, workers,
`prefect deploy --all`, and the UI checked in headless Chromium."""
