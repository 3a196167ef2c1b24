-- records: the values the stream cut found, each with the line it starts on.
insert into records
select
    source_file,
    first_line,
    line_number,
    raw_text,
    cast(null as varchar) as read_error,
    json_doc_type(raw_text) as doc_type
from split_records
