-- {{ kind }}_changed: the staged rows this run changes: the published rows of every file it
-- replaces and the rows it staged. A daily run rebuilds only the table rows these touch.
create or replace view sparkify_staging.{{ kind }}_changed as
select published.*
from sparkify_staging.{{ kind }} as published
where exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = '{{ kind }}' and replaced.source_file = published.source_file
)
union all
select incoming.*
from sparkify_staging.{{ kind }}_incoming as incoming
