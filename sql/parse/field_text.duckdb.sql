-- field_text: one field's value as staged text: a string unquoted, a number exactly as the file
-- writes it (DuckDB re-serialises fractions, `1.50` as `1.5`, so those are read from the
-- record's own text), NUL characters dropped (Redshift cannot store them) and trailing blanks
-- dropped (Redshift ignores them when comparing text, DuckDB does not: dropped, both agree).
-- `value_kind` and `value_text` are the field's JSON kind and text.
create or replace temp macro field_text(value_kind, value_text, record_text, field) as
    rtrim_blanks(drop_nul(
        case value_kind
            when 'VARCHAR' then value_text
            when 'UBIGINT' then value_text
            when 'BIGINT' then value_text
            when 'DOUBLE' then coalesce(
                nullif(regexp_extract(
                    record_text, '"' || field || '"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1
                ), ''),
                value_text
            )
        end
    ))
