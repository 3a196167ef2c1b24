-- changed_songs: the songs a daily run rebuilds (each has a changed staged song file).
create table if not exists sparkify_staging.changed_songs (
    song_id varchar(32) not null
)
diststyle all
