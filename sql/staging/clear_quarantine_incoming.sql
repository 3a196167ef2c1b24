-- quarantine_incoming: one kind's rejects emptied before staging and after publishing.
delete from sparkify_staging.quarantine_incoming
where kind = :kind
