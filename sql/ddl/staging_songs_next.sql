-- songs_next: staging_songs as it will be once this run publishes (replaced files swapped for incoming rows).
create or replace view sparkify_staging.songs_next as
select published.*
from sparkify_staging.songs as published
where not exists (
    select 1
    from sparkify_staging.incoming_files as replaced
    where replaced.kind = 'songs' and replaced.source_file = published.source_file
)
union all
select incoming.*
from sparkify_staging.songs_incoming as incoming
