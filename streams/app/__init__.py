"""The streaming scorer: every worker replays the market log, each scores the shards it owns."""

from streams.app.faust_app import StreamWorker, WorkerOptions, create_app
from streams.app.replica import Replica
from streams.app.runner import launch_worker, run_worker
from streams.topics import TopicNames

__all__ = [
    "Replica",
    "StreamWorker",
    "TopicNames",
    "WorkerOptions",
    "create_app",
    "launch_worker",
    "run_worker",
]
