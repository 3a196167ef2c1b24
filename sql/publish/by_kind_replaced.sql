-- {{ table }}: drop the rows of every file this run replaces (a table of both kinds' files, keyed
-- by kind and source_file), so reruns never duplicate them.
delete from sparkify_staging.{{ table }}
where exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = {{ table }}.kind and replaced.source_file = {{ table }}.source_file
)
