-- records_from_split: the values the stream cut found in the pieces registered as
-- split_records, each with the line it starts on, as parse/parsed reads records.
select
    source_file,
    first_line,
    line_number,
    raw_text,
    cast(null as varchar) as read_error,
    json_doc_type(raw_text) as doc_type
from split_records
