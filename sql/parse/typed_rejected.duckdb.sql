-- typed_rejected: the fast path's rejected records, whose raw text staging fills in from the
-- piece's bytes before quarantining them (the per-record path's rows carry theirs: a row with
-- no raw text and no read error came from the typed batch).
select source_file, first_line, line_number
from parsed
where reason is not null and raw_text is null and read_error is null
