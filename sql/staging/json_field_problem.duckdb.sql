-- json_field_problem: why a JSON field breaks the lake's contract (missing or wrong type), else NULL.
create or replace temp macro json_field_problem(doc, field, expected, required) as
    case
        when coalesce(json_type(doc, '$.' || field), 'NULL') = 'NULL'
            then case when required then 'missing ' || field end
        when not list_contains(expected, json_type(doc, '$.' || field))
            then field || ' is ' || lower(json_type(doc, '$.' || field)) || ', expected '
                || case when expected[1] = 'VARCHAR' then 'a string' else 'a number' end
    end
