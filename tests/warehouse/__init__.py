"""Real DuckDB files through the tasks' .fn() (no Prefect server), local lakes and the moto S3
server on 127.0.0.1."""
