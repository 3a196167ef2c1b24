-- plays_by_user_agent: which browser families do listeners use?
with plays as (
    select
        case
            when user_agent is null then 'unknown'
            when user_agent like '%Edge/%' then 'Edge'
            when user_agent like '%Firefox/%' then 'Firefox'
            when user_agent like '%Chrome/%' then 'Chrome'
            when user_agent like '%Safari/%' then 'Safari'
            when user_agent like '%MSIE %' or user_agent like '%Trident/%' then 'Internet Explorer'
            else 'other'
        end as family
    from songplays
    where start_time >= :start_time and start_time < :end_time
)

select family, count(*) as plays from plays group by family order by plays desc, family
