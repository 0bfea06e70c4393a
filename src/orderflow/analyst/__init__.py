"""For analysts: an order as of any instant and version diffs (:mod:`.history`), exports (:mod:`.export`),
time in status and lead times (:mod:`.report`). Everything here reads the event store or the read models;
nothing writes events. These functions are the API (tests and notebooks call them); ``orderflow.cli.analyst``
prints their results."""
