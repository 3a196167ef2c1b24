-- staging_columns: the columns the staging tables have now, in each table's order (an older
-- warehouse may lack one; COPY from Parquet loads columns by position).
select table_name, column_name
from information_schema.columns
where table_schema = 'sparkify_staging'
order by table_name, ordinal_position
