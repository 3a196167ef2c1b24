-- malformed_estimate: how many records, beyond one each, the batch's malformed stretches (text
-- that is not one JSON value) would hold: one over four typical records' bytes counts as its
-- size in typical records (an unparseable 50 KB blob stands for ~170 records, not one); a
-- shorter one, a broken line, is one record.
select
    coalesce(sum(
        case
            when strlen(raw_text) > 4 * $typical_bytes
                then floor(strlen(raw_text) / $typical_bytes) - 1
            else 0
        end
    ), 0) as extra
from parsed
where reason = 'malformed JSON'
