-- incoming_files: one kind's replaced files forgotten before staging and after publishing.
delete from sparkify_staging.incoming_files
where kind = :kind
