"""DuckDB, the embedded warehouse: one file on the worker or laptop (`session`), and its adapter."""
