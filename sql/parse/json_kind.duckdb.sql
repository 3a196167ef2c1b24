-- json_kind: what json_type(value) says of one JSON value (VARCHAR, UBIGINT, BIGINT, DOUBLE,
-- BOOLEAN, NULL, OBJECT, ARRAY), read from its first character instead of parsing it again: the
-- values come serialised by DuckDB's JSON writer, so a string opens with a quote and a double
-- always has a `.` or an exponent. Integers of 19 characters or more (which may overflow to
-- DOUBLE) are left to json_type,
-- as are NaN and Infinity. Staging asks this of 18 fields on every log line.
create or replace temp macro json_kind(value) as
    case ascii(value)
        when 34 then 'VARCHAR'
        when 110 then 'NULL'
        when 116 then 'BOOLEAN'
        when 102 then 'BOOLEAN'
        when 123 then 'OBJECT'
        when 91 then 'ARRAY'
        else
            case
                when value is null then null
                when strlen(value) >= 19 or contains(value, '.') or contains(value, 'e')
                    or contains(value, 'E') or contains(value, 'N') or contains(value, 'I')
                    then json_type(value)  -- NaN and Infinity too, which DuckDB's reader takes
                when ascii(value) = 45 then 'BIGINT'
                else 'UBIGINT'
            end
    end
