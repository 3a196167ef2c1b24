-- {{ table }}_incoming: as the Redshift file, with the same columns (DuckDB has no CREATE TABLE … LIKE).
create table if not exists sparkify_staging.{{ table }}_incoming as
select * from sparkify_staging.{{ table }} where 1 = 0
