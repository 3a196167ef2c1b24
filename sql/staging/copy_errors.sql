-- quarantine_incoming: what the last COPY rejected, from Redshift's load-error log (which keeps
-- file, line, column and message, but not the raw line).
insert into sparkify_staging.quarantine_incoming (kind, source_file, line_number, reason, raw_text)
select
    :kind as kind,
    coalesce(:source_file, trim(file_name)) as source_file,
    line_number,
    left(trim(column_name) || ': ' || trim(error_message), 512) as reason,
    cast(null as varchar) as raw_text
from sys_load_error_detail
where query_id = pg_last_copy_id()
