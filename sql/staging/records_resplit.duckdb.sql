-- records: the pieces cut again as streams of JSON values (registered as split_records) replace
-- their lines.
delete from records
where exists (
    select 1
    from split_records
    where
        split_records.source_file = records.source_file
        and split_records.first_line = records.first_line
)
and read_error is null
