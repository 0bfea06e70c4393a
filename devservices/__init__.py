"""Real, throwaway PostgreSQL and Kafka servers for the tests and the local demo.

``PostgresServer`` and ``KafkaBroker`` start a private server on free ports of
127.0.0.1 in a scratch directory and delete it again on ``stop()``. From the
shell::

    python -m devservices up --state DIR    # from the repository root; writes DIR/services.env
    python -m devservices down --state DIR

``devservices.postgres_server.PostgresServer`` and ``devservices.kafka_broker.KafkaBroker``;
``__main__`` is the shell command. Not part of the engine: the wheel does not ship them.
"""
