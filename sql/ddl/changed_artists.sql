-- changed_artists: the artists a daily run rebuilds (each has a changed staged song file).
create table if not exists sparkify_staging.changed_artists (
    artist_id varchar(32) not null
)
diststyle all
