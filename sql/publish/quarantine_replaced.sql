-- quarantine: drop the rejects of every file this run replaces, so reruns never duplicate them.
delete from sparkify_staging.quarantine
where exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = quarantine.kind and replaced.source_file = quarantine.source_file
)
