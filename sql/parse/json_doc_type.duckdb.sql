-- json_doc_type: what a record's text is: OBJECT, ARRAY or another JSON type, or NULL for text
-- that is not one valid JSON value or is over 4 MB (Redshift COPY's limit for one JSON object).
-- A trailing comma (`{"a": 1,}`), which DuckDB's parser tolerates, is malformed JSON: the check
-- blanks out string literals first, so a `,}` inside a value does not count. One WHEN per step:
-- DuckDB evaluates both sides of an AND, a CASE only what it needs.
create or replace temp macro json_doc_type(raw_text) as
    case
        when raw_text is null or strlen(raw_text) > 4194304 then null
        when not json_valid(raw_text) then null
        -- a valid document opening with `{` is an object: json_type only for the rest
        when ascii(raw_text) = 123 and not regexp_matches(raw_text, ',\s*[}\]]') then 'OBJECT'
        when not regexp_matches(raw_text, ',\s*[}\]]') then json_type(raw_text)
        when regexp_matches(
            regexp_replace(raw_text, '"(?:[^"\\]|\\.)*"', '""', 'g'), ',\s*[}\]]'
        ) then null
        else json_type(raw_text)
    end
