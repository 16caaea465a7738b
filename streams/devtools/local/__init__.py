"""Start and stop real brokers as local processes: Apache Kafka (KRaft) and tansu.

``streams.devtools.local.kafka.KafkaBroker`` and ``streams.devtools.local.tansu.TansuBroker`` share one small
interface (``start``, ``wait_ready``, ``stop``, ``bootstrap``, context manager) so tests and
the demo can run against either. Submodules are not imported here so that
``python -m streams.devtools.local.kafka`` runs cleanly.
"""
