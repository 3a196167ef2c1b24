-- incoming_files: the batch's files, whose previously staged rows this run replaces.
insert into sparkify_staging.incoming_files
select $kind as kind, source_file
from lake_batch
where line_number is null
