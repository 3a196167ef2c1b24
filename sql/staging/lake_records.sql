-- lake_records: one kind's records the lake holds once this run publishes: accepted (staged
-- rows) and rejected (quarantined), each replaced file's records swapped for this run's.
select
    (select count(*) from sparkify_staging.events_next where :kind = 'events')
    + (select count(*) from sparkify_staging.songs_next where :kind = 'songs') as accepted,
    (
        select count(*)
        from sparkify_staging.quarantine as published
        where
            published.kind = :kind
            and not exists (
                select 1
                from sparkify_staging.incoming_files as replaced
                where replaced.kind = :kind and replaced.source_file = published.source_file
            )
    )
    + (
        select count(*) from sparkify_staging.quarantine_incoming where kind = :kind
    ) as rejected
