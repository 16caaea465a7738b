-- Model monitoring, exact at read time (FINAL). One row per (signal, target) with a calibrated
-- probability, joined with its label once the outcome has resolved.
CREATE VIEW IF NOT EXISTS monitor_scored AS
SELECT
    event_id,
    ts,
    kind,
    t.1 AS target,
    models[t.1] AS model,
    assumeNotNull(t.2) AS p,
    t.3 AS raw,
    resolved,
    t.4 AS label
FROM
(
    SELECT
        s.event_id AS event_id,
        s.ts AS ts,
        s.kind AS kind,
        s.models AS models,
        o.signal_event_id != '' AS resolved,
        [
            ('reach_2x_1h', s.p_reach_2x_1h, s.raw_reach_2x_1h, o.reach_2x_1h),
            ('reach_3x_30m', s.p_reach_3x_30m, s.raw_reach_3x_30m, o.reach_3x_30m),
            ('reach_2x_10m', s.p_reach_2x_10m, s.raw_reach_2x_10m, o.reach_2x_10m),
            ('is_dead_soon', s.p_is_dead_soon, s.raw_is_dead_soon, o.is_dead_soon)
        ] AS per_target
    FROM signals AS s FINAL
    LEFT JOIN
    (
        SELECT signal_event_id, reach_2x_1h, reach_3x_30m, reach_2x_10m, is_dead_soon
        FROM outcomes FINAL
    ) AS o ON o.signal_event_id = s.event_id
)
ARRAY JOIN per_target AS t
WHERE t.2 IS NOT NULL;

-- Per model version and hour: volume, mean prediction, realised hit rate (resolved rows only).
CREATE VIEW IF NOT EXISTS monitor_hourly AS
SELECT
    target,
    model,
    toStartOfHour(ts) AS hour,
    count() AS n,
    avg(p) AS mean_p,
    countIf(resolved) AS resolved_n,
    sumIf(label, resolved) AS hits,
    avgIf(p, resolved) AS mean_p_resolved,
    if(resolved_n > 0, hits / resolved_n, NULL) AS hit_rate
FROM monitor_scored
GROUP BY target, model, hour;

-- Calibration: per model version, hour and predicted-probability decile (0 = [0, 0.1)).
CREATE VIEW IF NOT EXISTS monitor_calibration AS
SELECT
    target,
    model,
    toStartOfHour(ts) AS hour,
    toUInt8(least(floor(p * 10), 9)) AS decile,
    count() AS n,
    avg(p) AS mean_p,
    sum(label) AS hits,
    hits / n AS hit_rate
FROM monitor_scored
WHERE resolved
GROUP BY target, model, hour, decile;
