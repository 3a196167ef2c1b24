-- incoming_files: one row per (kind, source_file) whose staged rows this run replaces (read,
-- or gone from the lake), with the version (ETag, or mtime) it read.
create table if not exists sparkify_staging.incoming_files (
    kind        varchar(16) not null,
    source_file varchar(1024) not null,
    etag        varchar(256)
)
diststyle all
