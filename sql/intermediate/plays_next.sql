-- plays_next: one row per distinct NextSong event of a logged-in user (next_songs), with the
-- deterministic songplay_id that songplays builds on (it includes this query as its plays).
-- The same event read twice (a duplicated line or file) is one play: the first copy by file and
-- line wins. A daily run reads only the events at the instants it rebuilds; a play's id hashes
-- its instant, so they hold every copy of each of those plays.
with next_songs as (
    {% include "intermediate/next_songs.sql" %}
),

plays as (
    select
        md5(
            user_id || '|' || cast(session_id as varchar) || '|'
            || cast(item_in_session as varchar) || '|' || cast(ts as varchar)
        ) as songplay_id,
        start_time,
        user_id,
        level,
        song,
        artist,
        length,
        session_id,
        location,
        user_agent,
        source_file,
        line_number
    from next_songs
),

copies as (
    -- plays read more than once (rare): only they pay for the ranking below, which sorts
    -- every column of the rows it ranks (28 s of CPU over 8M plays when every play was ranked)
    select songplay_id
    from plays
    group by songplay_id
    having count(*) > 1
),

first_copies as (
    -- the columns named: engines without QUALIFY get it as a ranked subquery, whose rank
    -- column `select *` would carry into the union below (tasks/common/sql_files.py refuses
    -- `select *` over QUALIFY for them)
    select
        songplay_id,
        start_time,
        user_id,
        level,
        song,
        artist,
        length,
        session_id,
        location,
        user_agent,
        source_file,
        line_number
    from plays as play  -- Redshift: QUALIFY right after FROM needs an alias
    where exists (select 1 from copies where copies.songplay_id = play.songplay_id)
    qualify row_number() over (
        partition by songplay_id order by source_file, line_number
    ) = 1
),

final as (
    select *
    from plays
    where not exists (select 1 from copies where copies.songplay_id = plays.songplay_id)
    union all
    select * from first_copies
)

select * from final
