-- artists: one row per artist_id. Copied to every node so songplays joins it locally.
create table if not exists artists (
    artist_id varchar(32) not null,
    name      varchar(1024) not null,
    location  varchar(1024),
    latitude  double precision,
    longitude double precision,
    primary key (artist_id)
)
diststyle all
sortkey (artist_id)
