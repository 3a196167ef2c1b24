-- users: one row per non-empty user_id seen on any page; every attribute, level included, comes
-- from the user's most recent event by ts (ties broken by session, item, file and line). A daily
-- run rebuilds the users with a changed event, each from all of their events. ts is never NULL
-- (a required field: staging quarantines an event without it), so every user has a last
-- instant.
with events as (
    select * from sparkify_staging.events_next
    {%- if is_incremental %}
    where user_id in (select user_id from sparkify_staging.changed_users)
    {%- endif %}
),

named as (
    select * from events where user_id <> ''
),

latest as (
    -- each user's last instant first: only the events at it are ranked (ranking all 10M
    -- events by user sorted every one of them: 6-9 s against 2-3 s)
    select user_id, max(ts) as ts
    from named
    group by user_id
),

at_latest as (
    select named.*
    from named
    inner join latest on latest.user_id = named.user_id and latest.ts = named.ts
),

ranked as (
    select
        user_id,
        first_name,
        last_name,
        gender,
        level,
        row_number() over (
            partition by user_id
            -- line_number is the only nullable key: nulls last named, as Redshift orders NULLs
            -- first in a descending order ("NULL values are considered 'higher' than all other
            -- values", https://docs.aws.amazon.com/redshift/latest/dg/r_ORDER_BY_clause.html)
            -- and DuckDB last
            order by session_id desc, item_in_session desc, source_file desc,
                line_number desc nulls last
        ) as recency
    from at_latest
),

final as (
    select user_id, first_name, last_name, gender, level
    from ranked
    where recency = 1
)

select * from final
