-- changed_play_times: the instants whose plays (songplays) and time rows a daily run rebuilds:
-- those of changed NextSong events, and of every play whose title and artist name a changed
-- song file carries (its match may change). A play's id hashes its ts, so all copies of a
-- play share one instant.
create table if not exists sparkify_staging.changed_play_times (
    ts         bigint not null,
    start_time timestamp not null
)
diststyle all
