-- time: one row per songplays start_time, broken into calendar parts. Copied to every node.
create table if not exists "time" (
    start_time timestamp not null,
    hour       integer not null,
    day        integer not null,
    week       integer not null,
    month      integer not null,
    year       integer not null,
    weekday    integer not null,
    primary key (start_time)
)
diststyle all
sortkey (start_time)
