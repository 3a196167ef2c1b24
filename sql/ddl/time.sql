-- time: one row per songplays start_time, broken into calendar parts. As large as songplays and
-- rewritten by every full load, so not DISTSTYLE ALL (AWS: ALL suits slow-moving tables,
-- https://docs.aws.amazon.com/redshift/latest/dg/c_choosing_dist_sort.html): distributed on
-- start_time like songplays, so their join is collocated.
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
distkey (start_time)
sortkey (start_time)
