-- loaded_files: remember the version of every file this run read (files gone from the lake
-- have no version and drop out).
insert into sparkify_staging.loaded_files (kind, source_file, etag)
select distinct kind, source_file, etag
from sparkify_staging.incoming_files
where etag is not null
