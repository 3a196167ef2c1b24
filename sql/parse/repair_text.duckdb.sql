-- repair_text: f_repair_mojibake only where a value could be mojibake, so the Python repair sees
-- few values: it needs non-ASCII characters (bytes differ from characters) and, somewhere, a
-- character U+00C2-U+00F4 followed by one U+0080-U+00BF, which is what UTF-8 read as Latin-1
-- always leaves (without such a pair the Latin-1 bytes are not UTF-8, and the repair keeps the
-- value as it is). One WHEN per test: DuckDB evaluates both sides of an AND.
create or replace temp macro repair_text(value) as
    case
        when strlen(value) = length(value) then value
        when not regexp_matches(value, '[\x{C2}-\x{F4}][\x{80}-\x{BF}]') then value
        else f_repair_mojibake(value)
    end
