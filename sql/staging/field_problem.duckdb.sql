-- field_problem: why one field's JSON value breaks its declared kind (tasks/records.py), else
-- NULL. `value` is the field as JSON (NULL when the key is absent); `kind` is text, integer
-- (32-bit), bigint or number. As Redshift COPY converts JSON: any scalar is text (a number as
-- written), a string holding a number is that number, an integer is written without a
-- fraction or exponent; booleans, objects and arrays stand for no scalar.
create or replace temp macro field_problem(value, field, kind, required) as
    case
        when coalesce(json_kind(value), 'NULL') = 'NULL'
            then case when required then 'missing ' || field end
        when json_kind(value) in ('BOOLEAN', 'OBJECT', 'ARRAY')
            then field || ' is ' || lower(json_kind(value)) || ', expected '
                || case kind when 'text' then 'a string' when 'number' then 'a number'
                    else 'an integer' end
        when kind = 'text' then null
        when kind = 'number' then
            case
                when json_kind(value) = 'VARCHAR' and not regexp_full_match(
                    json_text(value), '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?'
                ) then field || ' is text that is not a number'
                when not isfinite(try_cast(json_text(value) as double))
                    then field || ' is not a finite number'
            end
        when not regexp_full_match(json_text(value), '[+-]?[0-9]+')
            then case
                when json_kind(value) = 'VARCHAR' then field || ' is text that is not an integer'
                else field || ' is not a whole number (written with a fraction or exponent)'
            end
        when kind = 'integer' and try_cast(json_text(value) as integer) is null
            then field || ' out of range'
        when try_cast(json_text(value) as bigint) is null then field || ' out of range'
    end
