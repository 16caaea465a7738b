-- One row per signal after merges: the latest resolution stage wins (1h = 1, 24h = 2).
-- Partitioned by the SIGNAL time so both stages of one signal always meet in one partition.
CREATE TABLE IF NOT EXISTS outcomes
(
    signal_event_id String,
    event_id        String,                  -- <signal_event_id>:o1h | :o24h
    kind            LowCardinality(String),
    mint            String,
    wallet          Nullable(String),
    creator         Nullable(String),
    signal_ts       DateTime64(3, 'UTC'),
    resolved_ts     DateTime64(3, 'UTC'),    -- event time of this stage's resolution
    stage           LowCardinality(String),
    stage_rank      UInt8,
    price           Float64,
    peak_10m        Nullable(Float64),
    peak_30m        Nullable(Float64),
    peak_1h         Nullable(Float64),
    peak_4h         Nullable(Float64),
    peak_24h        Nullable(Float64),
    min_1h          Nullable(Float64),
    reach_2x_1h     UInt8,                   -- labels, final from stage 1h on
    reach_3x_30m    UInt8,
    reach_2x_10m    UInt8,
    is_dead_soon    UInt8,
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(stage_rank)
PARTITION BY toYYYYMMDD(signal_ts)
ORDER BY (mint, signal_ts, signal_event_id);
