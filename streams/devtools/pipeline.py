"""Run the pipeline's processes for tests and benches: a sequencer and workers, in this process
(threads with their own event loops) or as child processes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from streams.app.faust_app import StreamWorker, WorkerOptions
from streams.app.metrics import WorkerMetrics
from streams.app.runner import run_worker
from streams.settings import Settings
from streams.topics import TopicNames


class InProcessWorker:
    """One worker on its own event loop in a thread, with a sequencer thread unless told not
    to (``with_sequencer=False``: another process sequences)."""

    def __init__(
        self, settings: Settings, topics: TopicNames, *, metrics: WorkerMetrics | None = None,
        with_sequencer: bool = True, options: WorkerOptions | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.topics = topics
        self.stop = asyncio.Event()
        self.loop = asyncio.new_event_loop()
        self.worker: StreamWorker | None = None
        self.metrics = metrics or WorkerMetrics()  # readable while it runs
        self.options = options or WorkerOptions(topics=topics)
        self.kwargs = kwargs
        self._thread = threading.Thread(target=self._serve, name="worker", daemon=True)
        self._sequencer_stop = threading.Event()
        self._sequencer: threading.Thread | None = None
        if with_sequencer:
            from streams.sequencer import run_sequencer

            self._sequencer = threading.Thread(
                target=run_sequencer, args=(settings, topics, self._sequencer_stop),
                name="sequencer", daemon=True,
            )  # fmt: skip

    def _serve(self) -> None:
        async def main() -> None:
            self.worker = await run_worker(self.settings, self.stop, self.options,
                                           metrics=self.metrics, **self.kwargs)  # fmt: skip

        self.loop.run_until_complete(main())

    def __enter__(self) -> InProcessWorker:
        if self._sequencer is not None:
            self._sequencer.start()
        self._thread.start()
        return self

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.registry.get_sample_value(name, labels or {}) or 0.0

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self._thread.join(60)
        self._sequencer_stop.set()
        if self._sequencer is not None:
            self._sequencer.join(30)
