-- json_text: one JSON value as text, as `value ->> '$'` gives it (a string unquoted and
-- unescaped, a number as written, null as NULL), without a parse unless the string has an escape.
create or replace temp macro json_text(value) as
    case ascii(value)
        when 110 then null
        when 34 then case when contains(value, '\') then value ->> '$' else value[2:-2] end
        else cast(value as varchar)
    end
