-- loaded_files: one row per lake file staged as published, with the version read, so a daily
-- run reads only song files that are new or changed since.
create table if not exists sparkify_staging.loaded_files (
    kind        varchar(16) not null,
    source_file varchar(1024) not null,
    etag        varchar(256) not null
)
diststyle all
sortkey (source_file)
