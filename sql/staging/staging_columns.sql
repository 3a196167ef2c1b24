-- staging_columns: the columns the staging tables have now (an older warehouse may lack one).
select table_name, column_name
from information_schema.columns
where table_schema = 'sparkify_staging'
