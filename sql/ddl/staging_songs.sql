-- staging_songs: one row per accepted song object of the lake, as last published; keyed by
-- (source_file, line_number): a file holds one song, or several.
create table if not exists sparkify_staging.songs (
    num_songs        integer,
    artist_id        varchar(32) not null,
    artist_latitude  double precision,
    artist_longitude double precision,
    artist_location  varchar(1024),
    artist_name      varchar(1024) not null,
    song_id          varchar(32) not null,
    title            varchar(1024) not null,
    duration         double precision not null,
    year             integer,
    source_file      varchar(1024) not null,
    line_number      integer  -- the line a song starts on, in a file of several
)
diststyle even
sortkey (source_file)
