-- songplays: one row per NextSong event of a logged-in user. Distributed on user_id (the
-- dimensions are DISTSTYLE ALL, so no join redistributes; song_id is mostly NULL and would skew),
-- sorted on start_time for the date-range filters every analysis query has.
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
distkey (user_id)
sortkey (start_time)
