-- parsed: the fast path's rejected records get their raw text (registered as rejected_text).
update parsed
set raw_text = rejected_text.raw_text
from rejected_text
where
    parsed.raw_text is null
    and parsed.read_error is null
    and parsed.source_file = rejected_text.source_file
    and parsed.first_line = rejected_text.first_line
    and parsed.line_number is not distinct from rejected_text.line_number
