-- {{ kind }}_incoming: emptied before staging (so a retried task starts clean) and after publishing.
delete from sparkify_staging.{{ kind }}_incoming
