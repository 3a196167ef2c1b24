-- loaded_files: one kind's files staged as published (read, whether their records were accepted
-- or quarantined), and the version each was read at.
select source_file, etag
from sparkify_staging.loaded_files
where kind = :kind
