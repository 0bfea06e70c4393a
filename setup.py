"""Which packages the wheel holds; everything else is in setup.cfg.

Every package under ``src/orderflow`` is found, so a new subpackage needs no
listing here; ``consumers/`` and ``schemas/`` stay at the repository's top level
and are installed as ``orderflow.consumers`` and ``orderflow.schemas``
(``package_dir`` in setup.cfg), the schemas as package data. ``devservices/``, ``bench/`` and ``tests/`` are
not shipped.
"""

from setuptools import find_namespace_packages, find_packages, setup

setup(packages=[
    *find_packages("src"),
    *(f"orderflow.{package}" for package in find_packages(".", include=["consumers", "consumers.*"])),
    "orderflow.schemas",
    *(f"orderflow.schemas.{folder}" for folder in find_namespace_packages("schemas")),  # inbound/, outbound/: data only
])
