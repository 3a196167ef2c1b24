-- loaded_files: forget the versions of every file this run replaces.
delete from sparkify_staging.loaded_files
where exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = loaded_files.kind and replaced.source_file = loaded_files.source_file
)
