-- {{ kind }}_next: staging {{ kind }} as it will be once this run publishes (replaced files swapped
-- for incoming rows).
create or replace view sparkify_staging.{{ kind }}_next as
select published.*
from sparkify_staging.{{ kind }} as published
where not exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = '{{ kind }}' and replaced.source_file = published.source_file
)
union all
select incoming.*
from sparkify_staging.{{ kind }}_incoming as incoming
