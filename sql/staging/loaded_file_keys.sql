-- loaded_file_keys: every file of one kind staged as published (read, whether its records were
-- accepted or quarantined).
select source_file
from sparkify_staging.loaded_files
where kind = :kind
