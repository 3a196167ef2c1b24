-- plays_next: one row per distinct NextSong event of a logged-in user (next_songs), with the
-- deterministic songplay_id that songplays builds on (it includes this query as its plays).
-- The same event read twice (a duplicated line or file) is one play: the first copy by file and
-- line wins. A daily run reads only the events at the instants it rebuilds; a play's id hashes
-- its instant, so they hold every copy of each of those plays.
with next_songs as (
    {% include "intermediate/next_songs.sql" %}
),

copies as (
    -- events read more than once (rare): only they pay for the ranking below, which sorts
    -- every column of the rows it ranks. Copies share user, session, item and instant, the
    -- four values the id hashes (its text is `user_id|session_id|item_in_session|ts`, whose
    -- last three parts are whole numbers, so two plays share an id exactly when they share
    -- these)
    select user_id, session_id, item_in_session, ts
    from next_songs
    group by user_id, session_id, item_in_session, ts
    having count(*) > 1
),

first_copies as (
    -- the columns named: engines without QUALIFY get it as a ranked subquery, whose rank
    -- column `select *` would carry into the union below (tasks/common/sql_files.py refuses
    -- `select *` over QUALIFY for them); in next_songs' order, for that union
    select
        ts,
        start_time,
        user_id,
        level,
        song,
        artist,
        length,
        session_id,
        item_in_session,
        location,
        user_agent,
        source_file,
        line_number
    from next_songs as play  -- Redshift: QUALIFY right after FROM needs an alias
    where exists (
        select 1
        from copies
        where copies.user_id = play.user_id
            and copies.session_id = play.session_id
            and copies.item_in_session = play.item_in_session
            and copies.ts = play.ts
    )
    qualify row_number() over (
        partition by user_id, session_id, item_in_session, ts order by source_file, line_number
    ) = 1
),

distinct_plays as (
    select *
    from next_songs as play
    where not exists (
        select 1
        from copies
        where copies.user_id = play.user_id
            and copies.session_id = play.session_id
            and copies.item_in_session = play.item_in_session
            and copies.ts = play.ts
    )
    union all
    select * from first_copies
),

final as (
    -- the id is hashed once per play, after the copies are gone
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
    from distinct_plays
)

select * from final
