-- One row per scored event (topic `signals`). Re-delivered rows share event_id (and therefore
-- mint and ts), so they collapse on merge; read with FINAL when exact counts matter.
CREATE TABLE IF NOT EXISTS signals
(
    event_id         String,
    source_event_id  String,
    kind             LowCardinality(String),
    ts               DateTime64(3, 'UTC'),
    mint             String,
    wallet           Nullable(String),
    creator          Nullable(String),
    price            Float64,
    feature_set      LowCardinality(String),
    features         Array(Float64),          -- registry order of feature_set, NaN = missing
    p_reach_2x_1h    Nullable(Float64),
    p_reach_3x_30m   Nullable(Float64),
    p_reach_2x_10m   Nullable(Float64),
    p_is_dead_soon   Nullable(Float64),
    raw_reach_2x_1h  Nullable(Float64),
    raw_reach_3x_30m Nullable(Float64),
    raw_reach_2x_10m Nullable(Float64),
    raw_is_dead_soon Nullable(Float64),
    rule_score       Float64,
    source           LowCardinality(String),
    models           Map(String, String),     -- target -> model id@version
    percentile_1h    Nullable(Float64),
    scored_at        DateTime64(3, 'UTC'),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (mint, ts, event_id);
