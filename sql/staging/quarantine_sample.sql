-- quarantine_sample: the records this run rejected, with file, line, reason and the start of their
-- text, for the run's artifact (the first :limit by file and line).
select
    kind,
    source_file,
    line_number,
    reason,
    left(raw_text, 200) as raw_text
from sparkify_staging.quarantine_incoming
order by kind, source_file, line_number
limit :limit
