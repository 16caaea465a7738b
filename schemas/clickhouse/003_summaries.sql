-- Analyst summaries as refreshable materialized views: ClickHouse (server or chdb, while a
-- process holds the engine) recomputes them from the deduplicated base tables every minute and
-- swaps the result in atomically. `streams.store.refresh_summaries` forces a refresh now.
-- Fates use the outcome of a token's earliest signal (its genesis window when there is one).
CREATE MATERIALIZED VIEW IF NOT EXISTS tokens
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY mint
AS
SELECT
    s.mint AS mint,
    s.creator AS creator,
    s.first_seen AS first_seen,
    s.last_seen AS last_seen,
    s.has_genesis AS has_genesis,
    s.signals AS signals,
    s.buy_signals AS buy_signals,
    s.wallets AS wallets,
    o.resolved AS resolved_signals,
    o.launch_peak_1h AS peak_1h,
    o.launch_peak_24h AS peak_24h,
    o.launch_dead AS dead_soon,
    multiIf(
        o.resolved = 0, 'pending',
        o.launch_dead = 1, 'dead',
        o.launch_peak_24h >= 10, 'moon',
        o.launch_peak_1h >= 2, 'runner',
        'flat'
    ) AS fate
FROM
(
    SELECT
        mint,
        any(creator) AS creator,
        min(ts) AS first_seen,
        max(ts) AS last_seen,
        toUInt8(countIf(kind = 'genesis') > 0) AS has_genesis,
        count() AS signals,
        countIf(kind = 'buy') AS buy_signals,
        uniqExact(wallet) AS wallets
    FROM signals FINAL
    GROUP BY mint
) AS s
LEFT JOIN
(
    SELECT
        mint,
        count() AS resolved,
        argMin(peak_1h, (signal_ts, signal_event_id)) AS launch_peak_1h,
        argMin(peak_24h, (signal_ts, signal_event_id)) AS launch_peak_24h,
        argMin(is_dead_soon, (signal_ts, signal_event_id)) AS launch_dead
    FROM outcomes FINAL
    GROUP BY mint
) AS o ON o.mint = s.mint;

CREATE MATERIALIZED VIEW IF NOT EXISTS creators
REFRESH EVERY 1 MINUTE DEPENDS ON tokens
ENGINE = MergeTree ORDER BY creator
AS
SELECT
    assumeNotNull(creator) AS creator,
    count() AS launches,
    countIf(fate != 'pending') AS resolved_launches,
    countIf(fate = 'dead') AS dead_launches,
    if(resolved_launches > 0, dead_launches / resolved_launches, NULL) AS rug_rate,
    countIf(fate IN ('runner', 'moon')) AS runners,
    countIf(fate = 'moon') AS moons,
    avgIf(peak_1h, fate != 'pending') AS mean_peak_1h,
    min(first_seen) AS first_launch,
    max(first_seen) AS last_launch
FROM tokens
WHERE creator IS NOT NULL
GROUP BY creator;

CREATE MATERIALIZED VIEW IF NOT EXISTS wallets
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY wallet
AS
SELECT
    assumeNotNull(s.wallet) AS wallet,
    count() AS buys,
    uniqExact(s.mint) AS mints,
    countIf(o.signal_event_id != '') AS resolved_buys,
    sumIf(o.reach_2x_1h, o.signal_event_id != '') AS wins,
    if(resolved_buys > 0, wins / resolved_buys, NULL) AS win_rate,
    avgIf(o.peak_1h, o.signal_event_id != '') AS mean_peak_1h,
    min(s.ts) AS first_buy,
    max(s.ts) AS last_buy
FROM
(
    SELECT event_id, wallet, mint, ts FROM signals FINAL WHERE kind = 'buy' AND wallet IS NOT NULL
) AS s
LEFT JOIN
(
    SELECT signal_event_id, reach_2x_1h, peak_1h FROM outcomes FINAL
) AS o ON o.signal_event_id = s.event_id
GROUP BY wallet;
