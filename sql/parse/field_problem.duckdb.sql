-- field_problem: why one field's value breaks its declared kind (tasks/records.py), else NULL.
-- `json_kind` and `json_text` are the field's JSON kind and text (both NULL when the key is
-- absent); `kind` is text, integer (32-bit), bigint or number. As Redshift COPY converts JSON:
-- any scalar is text (a number as written), a string holding a number is that number, an
-- integer is written without a fraction or exponent; booleans, objects and arrays stand for no
-- scalar. An empty string in a numeric field is no value (NULL, or missing if it is required).
create or replace temp macro field_problem(value_kind, value_text, field, kind, required) as
    case
        when coalesce(value_kind, 'NULL') = 'NULL'
            or (kind <> 'text' and value_kind = 'VARCHAR' and trim(value_text) = '')
            then case when required then 'missing ' || field end
        when value_kind in ('BOOLEAN', 'OBJECT', 'ARRAY')
            then field || ' is ' || lower(value_kind) || ', expected '
                || case kind when 'text' then 'a string' when 'number' then 'a number'
                    else 'an integer' end
        when kind = 'text' then null
        when kind = 'number' then
            case
                when value_kind = 'VARCHAR' and not regexp_full_match(
                    value_text, '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?'
                ) then field || ' is text that is not a number'
                when not isfinite(try_cast(value_text as double))
                    then field || ' is not a finite number'
            end
        when not regexp_full_match(value_text, '[+-]?[0-9]+')
            then case
                when value_kind = 'VARCHAR' then field || ' is text that is not an integer'
                else field || ' is not a whole number (written with a fraction or exponent)'
            end
        when kind = 'integer' and try_cast(value_text as integer) is null
            then field || ' out of range'
        when try_cast(value_text as bigint) is null then field || ' out of range'
    end
