"""The sequencer: merges the input topics into the one-partition market log (the canonical
order every worker and the offline replay apply). docs/sequencer.md describes it.

- ``merge``: the pure k-way merge and its release rule;
- ``admit``: the one decode / dead-letter decision per input record;
- ``records``, ``recovery``: the log records written, and the fold of the log's tail;
- ``leader``, ``service``, ``kafka_io``: the Kafka adapter (one term per lease assignment);
- ``runner``: a sequencer as a child process.

The pure modules load no Kafka client: the two entry points below are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.sequencer.runner import launch_sequencer
    from streams.sequencer.service import run_sequencer

__all__ = ["launch_sequencer", "run_sequencer"]


def __getattr__(name: str) -> Any:
    if name == "run_sequencer":
        from streams.sequencer.service import run_sequencer

        return run_sequencer
    if name == "launch_sequencer":
        from streams.sequencer.runner import launch_sequencer

        return launch_sequencer
    raise AttributeError(name)
