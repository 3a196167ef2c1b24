-- staged_files: how many files of one kind the run replaces (none once the run has published,
-- which clears them). DuckDB's only, as staged_columns.
select count(*) from sparkify_staging.incoming_files where kind = $kind
