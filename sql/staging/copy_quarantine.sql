-- quarantine_incoming: records the compaction step rejected before COPY (e.g. malformed JSON).
copy sparkify_staging.quarantine_incoming
from :rejects_uri
iam_role :iam_role
format as json 'auto'
region :region
compupdate off
statupdate off
truncatecolumns
