-- json_field_problem: why one JSON field's value breaks the lake's contract (missing or of the
-- wrong type), else NULL. `value` is the field as JSON (NULL when the key is absent).
create or replace temp macro json_field_problem(value, field, expected, required) as
    case
        when coalesce(json_kind(value), 'NULL') = 'NULL'
            then case when required then 'missing ' || field end
        when not list_contains(expected, json_kind(value))
            then field || ' is ' || lower(json_kind(value)) || ', expected '
                || case when expected[1] = 'VARCHAR' then 'a string' else 'a number' end
    end
