-- quarantine_incoming: the batch's rejected records with file, line, reason and raw text, sized
-- in bytes for the quarantine's VARCHAR columns (Redshift counts bytes) and free of NUL, which
-- no Redshift VARCHAR holds.
insert into sparkify_staging.quarantine_incoming
select
    $kind as kind,
    source_file,
    line_number,
    f_truncate_utf8(reason, 512) as reason,
    f_truncate_utf8(drop_nul(raw_text), 65535) as raw_text
from parsed
where reason is not null
