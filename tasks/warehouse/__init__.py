"""Warehouse adapters: one per engine (`duckdb`, `redshift`), chosen in one place (`connect`).

`target` names a warehouse, `base` is what every adapter provides (a session that runs named
SQL files, a run lock); Redshift's lock, Parquet staging and COPY live beside its adapter.
"""
