-- incoming_files (full scan): every file staged or quarantined before, so a file gone from the
-- lake drops out of staging when the run publishes.
insert into sparkify_staging.incoming_files (kind, source_file, etag)
select known.kind, known.source_file, cast(null as varchar) as etag
from (
    select 'events' as kind, source_file from sparkify_staging.events
    union
    select 'songs' as kind, source_file from sparkify_staging.songs
    union
    select kind, source_file from sparkify_staging.quarantine
) as known
where known.kind = :kind
