-- quarantine_incoming: what the last COPY of this session rejected, from stl_load_errors (its
-- query id is pg_last_copy_id()); compacted song lines name their song file in raw_line.
insert into sparkify_staging.quarantine_incoming (kind, source_file, line_number, reason, raw_text)
select
    :kind as kind,
    coalesce(
        :source_file,
        nullif(regexp_substr(raw_line, '"source_file": "([^"]*)"', 1, 1, 'e'), ''),
        trim(filename)
    ) as source_file,
    line_number,
    left(coalesce(trim(colname), '?') || ': ' || coalesce(trim(err_reason), 'load error'), 512)
        as reason,
    trim(raw_line) as raw_text
from stl_load_errors
where query = pg_last_copy_id()
