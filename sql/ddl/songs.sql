-- songs: one row per song_id. Copied to every node so songplays joins it locally.
create table if not exists songs (
    song_id   varchar(32) not null,
    title     varchar(1024) not null,
    artist_id varchar(32) not null,
    year      integer,
    duration  double precision not null,
    primary key (song_id)
)
diststyle all
sortkey (song_id)
