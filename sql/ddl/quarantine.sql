-- quarantine: one row per rejected record (a log line or a song file) with its reason, as last published.
create table if not exists sparkify_staging.quarantine (
    kind        varchar(16) not null,
    source_file varchar(1024) not null,
    line_number integer,
    reason      varchar(512) not null,
    raw_text    varchar(65535)
)
diststyle even
