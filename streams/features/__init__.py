"""Point-in-time feature engine and outcome tracker (pure: no Kafka, no clock).

Import what you need from its modules (``streams.features.engine`` for ``FeatureEngine``,
``streams.features.state`` for the state stores); the feature registry is
``streams.contracts.features``. Importing this package imports nothing else.
"""
