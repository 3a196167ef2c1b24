-- users: one row per non-empty user_id seen on any page; every attribute, level included, comes
-- from the user's most recent event by ts (ties broken by session, item, file and line). A daily
-- run rebuilds the users with a changed event, each from all of their events.
with events as (
    select * from sparkify_staging.events_next
    {%- if is_incremental %}
    where user_id in (select user_id from sparkify_staging.changed_users)
    {%- endif %}
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
            order by ts desc, session_id desc, item_in_session desc, source_file desc, line_number desc
        ) as recency
    from events
    where user_id <> ''
),

final as (
    select user_id, first_name, last_name, gender, level
    from ranked
    where recency = 1
)

select * from final
