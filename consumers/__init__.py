"""Thin Kafka adapters: decode, validate against ``schemas/``, call one command."""
