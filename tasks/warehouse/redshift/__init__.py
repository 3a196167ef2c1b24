"""Amazon Redshift, the production warehouse: its connection block (`block`), sessions (`session`),
the run lock (`lock`), Parquet staging (`parquet`, `copy_sql`), and its adapter."""
