-- songs_incoming: as the Redshift file, with the same columns (DuckDB has no CREATE TABLE … LIKE).
create table if not exists sparkify_staging.songs_incoming as
select * from sparkify_staging.songs where 1 = 0
