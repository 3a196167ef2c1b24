-- load_history: one row per published run, with what it read and what it rejected.
create table if not exists sparkify_meta.load_history (
    run_id          varchar(64) not null,
    partition_label varchar(64) not null,
    published_at    timestamp not null,
    event_files     integer not null,
    events_accepted bigint not null,
    events_rejected bigint not null,
    song_files      integer not null,
    songs_accepted  bigint not null,
    songs_rejected  bigint not null
)
diststyle all
