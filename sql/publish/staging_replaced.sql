-- staging {{ kind }}: drop the rows of every file this run replaces.
delete from sparkify_staging.{{ kind }}
where source_file in (
    select source_file from sparkify_staging.incoming_files where kind = '{{ kind }}'
)
