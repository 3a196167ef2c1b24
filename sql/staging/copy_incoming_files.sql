-- incoming_files: the run's files (a CSV the run wrote), whose staged rows it replaces.
copy sparkify_staging.incoming_files (kind, source_file, etag)
from :files_uri
iam_role :iam_role
format as csv
emptyasnull
region :region
compupdate off
statupdate off
