-- staged_columns: a staging table's columns in order, with their types and whether they take
-- NULL (DuckDB's full load moves an incoming table into the published one's place only if
-- their columns match). DuckDB's only: Redshift's publish copies the rows.
select column_name, data_type, is_nullable
from information_schema.columns
where table_catalog = current_database()
    and table_schema = 'sparkify_staging'
    and table_name = $table_name
order by ordinal_position
