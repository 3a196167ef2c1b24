-- staging_events: one row per accepted log line of the lake, as last published; keyed by (source_file, line_number).
create table if not exists sparkify_staging.events (
    artist          varchar(1024),
    auth            varchar(32),
    first_name      varchar(256),
    gender          varchar(16),
    item_in_session integer not null,
    last_name       varchar(256),
    length          double precision,
    level           varchar(16) not null,
    location        varchar(1024),
    method          varchar(16),
    page            varchar(64) not null,
    registration    double precision,
    session_id      bigint not null,
    song            varchar(1024),
    status          integer,
    ts              bigint not null,
    user_agent      varchar(1024),
    user_id         varchar(64) not null,
    source_file     varchar(1024) not null,
    line_number     integer
)
diststyle even
sortkey (source_file)
