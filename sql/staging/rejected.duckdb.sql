-- quarantine_incoming: the batch's rejected records with file, line, reason and (capped) raw text.
insert into sparkify_staging.quarantine_incoming
select
    $kind as kind,
    source_file,
    line_number,
    reason,
    left(raw_text, 65535) as raw_text
from parsed
where reason is not null
