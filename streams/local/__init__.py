"""Start and stop real brokers as local processes: Apache Kafka (KRaft) and tansu.

Both expose the same small interface (``start``, ``wait_ready``, ``stop``, ``bootstrap``,
context manager) so tests and the demo can run against either.
"""

from streams.local.kafka import KafkaBroker
from streams.local.process import BrokerNotReady
from streams.local.tansu import TansuBroker

__all__ = ["BrokerNotReady", "KafkaBroker", "TansuBroker"]
