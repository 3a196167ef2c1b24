-- songplays: one row per NextSong event of a logged-in user. Distributed and sorted on
-- start_time: the analysis queries join it to "time" on start_time, which is distributed on the
-- same key, so that join stays on each slice (AWS, "Choose the best distribution style":
-- https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html); users,
-- songs and artists are DISTSTYLE ALL, so their joins are local too; millisecond instants
-- spread evenly (song_id is mostly NULL and would skew); every analysis filters on dates.
create table if not exists songplays (
    songplay_id varchar(32) not null,
    start_time  timestamp not null,
    user_id     varchar(64) not null,
    level       varchar(16) not null,
    song_id     varchar(32),
    artist_id   varchar(32),
    session_id  bigint not null,
    location    varchar(1024),
    user_agent  varchar(1024),
    primary key (songplay_id)
)
distkey (start_time)
sortkey (start_time)
