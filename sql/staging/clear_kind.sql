-- {{ table }}: one kind's rows (its rejects, or its replaced files) forgotten before staging and
-- after publishing.
delete from sparkify_staging.{{ table }}
where kind = :kind
