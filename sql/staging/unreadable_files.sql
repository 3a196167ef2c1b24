-- unreadable_files: one kind's files this run could not read at all (a file-level reject), to
-- count each as the records it would hold.
select source_file, reason
from sparkify_staging.quarantine_incoming
where kind = :kind and line_number is null and reason like 'unreadable file%'
