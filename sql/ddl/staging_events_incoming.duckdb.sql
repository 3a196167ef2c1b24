-- events_incoming: as the Redshift file, with the same columns (DuckDB has no CREATE TABLE … LIKE).
create table if not exists sparkify_staging.events_incoming as
select * from sparkify_staging.events where 1 = 0
