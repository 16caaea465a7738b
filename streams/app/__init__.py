"""The streaming scorer: faust app (thin adapters), re-sequencer, worker runners."""

from streams.app.core import StreamCore, TopicNames
from streams.app.faust_app import StreamWorker, WorkerOptions, create_app
from streams.app.ordering import Resequencer
from streams.app.runner import launch_worker, run_worker

__all__ = [
    "Resequencer",
    "StreamCore",
    "StreamWorker",
    "TopicNames",
    "WorkerOptions",
    "create_app",
    "launch_worker",
    "run_worker",
]
