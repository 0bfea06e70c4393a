"""The back office's web console (``orderflow console``, the ``orderflow[console]`` extra).

A separate process from the engine: it reads the read models and the event
store, and acts only by publishing back-office messages on the inbound topics,
which the engine applies as it applies the ERP's (docs/console.md).

- :mod:`.reads`: the Web Orders list, an order page as of any instant, the failed messages;
- :mod:`.actions`: publish a back-office message and wait for the engine's outcome;
- :mod:`.auth`: users, passwords (argon2), sessions, CSRF tokens, sign-in rate limits;
- :mod:`.app`: the Starlette application: routes, security headers, server-sent events.
"""
