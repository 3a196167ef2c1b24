-- events_copy: one log file's events as Redshift's COPY reads them (the lake's 18 fields, in
-- the JSONPaths file's order), before they get their source file and repaired text.
create table if not exists sparkify_staging.events_copy (
    artist          varchar(1024),
    auth            varchar(32),
    first_name      varchar(256),
    gender          varchar(16),
    item_in_session integer,
    last_name       varchar(256),
    length          double precision,
    level           varchar(16),
    location        varchar(1024),
    method          varchar(16),
    page            varchar(64),
    registration    double precision,
    session_id      bigint,
    song            varchar(1024),
    status          integer,
    ts              bigint,
    user_agent      varchar(1024),
    user_id         varchar(64)
)
diststyle even
