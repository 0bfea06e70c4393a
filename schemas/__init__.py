"""The wire contract's JSON Schemas, installed as the package data of ``orderflow.schemas``.

Read them with ``importlib.resources.files("orderflow.schemas")`` (:mod:`orderflow.contract.schemas`).
"""
