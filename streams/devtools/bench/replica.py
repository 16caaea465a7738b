"""``alphastream bench replica``: where a worker's CPU per log record goes, by owned share.

Every worker applies the whole log (state-machine replication), so a worker's CPU per record
is ``owned * c_owned + (1 - owned) * c_not_owned``; group capacity can rise with N only as far
as ``c_not_owned`` is small next to ``c_owned``. This bench measures both on the same events in
memory (no broker), with the parts a non-owned record still pays: decoding, and the engine with
its feature vector (what the handover buffer holds today) or without it (state only).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.settings import Settings

OWNED_SHARES = (1, 2, 3)  # a worker of a group of N owns 1/N of the shards
# log records per step: a paced log arrives a few records per read, a backlog in full batches
STEP_SIZES = (1, 4, 16)


@dataclass(frozen=True, slots=True)
class ReplicaBench:
    records: int
    shards: int
    runs: int
    decode_us: float  # decode_input per record
    engine_with_rows_us: float  # engine.process, every feature row computed (owned=True)
    engine_state_only_us: float  # engine.process without feature rows (owned=False)
    replica_us: dict[int, float]  # N -> a worker owning 1/N of the shards, CPU µs per record
    replica_none_us: float  # owning no shard: the cost of a record this worker does not own
    owned_record_share: dict[int, float]  # N -> the share of the log's records that worker owns
    # records per step -> CPU µs per record, owning every shard (the last: settings.log_batch)
    per_step_size_us: dict[int, float]

    @property
    def not_owned_feature_us(self) -> float:
        """What a non-owned record spends on the feature rows only the handover buffer uses."""
        return self.engine_with_rows_us - self.engine_state_only_us

    def capacity_ratio(self, workers: int) -> float:
        """Group events/s with ``workers`` workers on a free core each, over one worker's."""
        return self.replica_us[1] / self.replica_us[workers]

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records, "shards": self.shards, "runs": self.runs,
            "decode_us": self.decode_us, "engine_with_rows_us": self.engine_with_rows_us,
            "engine_state_only_us": self.engine_state_only_us,
            "replica_us": {str(n): us for n, us in self.replica_us.items()},
            "replica_none_us": self.replica_none_us,
            "owned_record_share": {str(n): s for n, s in self.owned_record_share.items()},
            "not_owned_feature_us": self.not_owned_feature_us,
            "capacity_ratio": {str(n): self.capacity_ratio(n) for n in self.replica_us},
            "per_step_size_us": {str(n): us for n, us in self.per_step_size_us.items()},
        }  # fmt: skip


def _cpu_us_per(n: int, work: Callable[[], object]) -> float:
    """CPU µs per item of ``work``, the collector paused (the worker freezes its heap instead:
    streams.heap), so one run's garbage does not land in the next one's time."""
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()
        work()
        return (time.thread_time() - started) / n * 1e6
    finally:
        gc.enable()


def _replica_run(settings: Settings, records: Sequence[Any], owned: Sequence[int],
                 shards: int, batch: int | None = None) -> float:  # fmt: skip
    from streams.app.handover import HandoverBuffer, ShardProgress
    from streams.app.metrics import WorkerMetrics
    from streams.app.replica import Replica
    from streams.app.shards import ShardMap
    from streams.contracts.features import FEATURE_SET_VERSION
    from streams.features.engine import FeatureEngine
    from streams.scoring import Scorer, default_registry
    from streams.topics import TopicNames

    replica = Replica(FeatureEngine(), Scorer(default_registry(settings)),
                      feature_set=FEATURE_SET_VERSION, topics=TopicNames(),
                      shards=ShardMap(shards), metrics=WorkerMetrics(),
                      buffer=HandoverBuffer(settings.handover_window_s, settings.handover_max_rows))  # fmt: skip
    replica.take_over({shard: ShardProgress() for shard in owned}, 0.0)
    batch = batch or settings.log_batch

    def apply_all() -> None:
        for i in range(0, len(records), batch):
            replica.apply(records[i : i + batch], 1.0)  # wall time 1 s: nothing is evicted

    return _cpu_us_per(len(records), apply_all)


def _engine_run(events: Sequence[Any], owned: bool) -> float:
    from streams.features.engine import FeatureEngine

    engine = FeatureEngine()

    def process_all() -> None:
        for event in events:
            engine.process(event, owned)

    return _cpu_us_per(len(events), process_all)


def bench_replica(settings: Settings, events: list[dict[str, Any]], runs: int = 3) -> ReplicaBench:
    """Every measurement once per round, rounds alternating (drift hits all); medians."""
    from streams.app.shards import ShardMap
    from streams.devtools.harness import log_records
    from streams.events import decode_input

    records = log_records(events)
    shards = settings.partitions
    decoded = [decode_input(r.value, r.source.topic) for r in records]
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        round_ = {
            "decode": _cpu_us_per(len(records), lambda: [decode_input(r.value, r.source.topic)
                                                         for r in records]),
            "rows": _engine_run(decoded, True),
            "state": _engine_run(decoded, False),
            "none": _replica_run(settings, records, [], shards),
        }  # fmt: skip
        for n in OWNED_SHARES:
            round_[f"own{n}"] = _replica_run(settings, records, range(0, shards, n), shards)
        for size in STEP_SIZES:
            round_[f"step{size}"] = _replica_run(settings, records, range(shards), shards, size)
        for key, value in round_.items():
            samples.setdefault(key, []).append(value)
    shard_of = ShardMap(shards).of
    owned_share = {n: sum(1 for r in records if shard_of(r.key.decode()) % n == 0) / len(records)
                   for n in OWNED_SHARES}  # fmt: skip
    med = {key: statistics.median(values) for key, values in samples.items()}
    return ReplicaBench(
        records=len(records), shards=shards, runs=runs, decode_us=med["decode"],
        engine_with_rows_us=med["rows"], engine_state_only_us=med["state"],
        replica_us={n: med[f"own{n}"] for n in OWNED_SHARES}, replica_none_us=med["none"],
        owned_record_share=owned_share,
        per_step_size_us={**{n: med[f"step{n}"] for n in STEP_SIZES}, settings.log_batch: med["own1"]},
    )  # fmt: skip
