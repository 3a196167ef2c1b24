-- quarantine_incoming (Redshift Serverless, which has no stl_load_errors): the last COPY of this
-- session's errors from sys_load_error_detail, found through sys_load_history; no raw line.
insert into sparkify_staging.quarantine_incoming (kind, source_file, line_number, reason, raw_text)
select
    :kind as kind,
    coalesce(:source_file, trim(file_name)) as source_file,
    line_number,
    left(coalesce(trim(column_name), '?') || ': ' || coalesce(trim(error_message), 'load error'), 512)
        as reason,
    cast(null as varchar) as raw_text
from sys_load_error_detail
where query_id = (
    select max(query_id) from sys_load_history where session_id = pg_backend_pid()
)
