-- parsed: the records of the pieces cut again as streams of JSON values (registered as
-- split_records) are dropped, to be parsed again from the values the cut found.
delete from parsed
where
    read_error is null
    and exists (
        select 1
        from split_records
        where
            split_records.source_file = parsed.source_file
            and split_records.first_line = parsed.first_line
    )
