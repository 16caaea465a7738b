"""ClickHouse storage: DDL migrations, the Kafka -> ClickHouse sink, training and analyst reads."""

from streams.store.connect import StoreLockedError, connect
from streams.store.migrations import migrate
from streams.store.summaries import refresh_summaries
from streams.store.training import training_frame

__all__ = ["StoreLockedError", "connect", "migrate", "refresh_summaries", "training_frame"]
