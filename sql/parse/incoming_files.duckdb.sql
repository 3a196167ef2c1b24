-- incoming_files: the files this task read (registered as lake_files), with their versions.
insert into sparkify_staging.incoming_files
select $kind as kind, source_file, etag
from lake_files
