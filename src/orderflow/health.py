"""The HTTP server of ``orderflow run`` (``ORDERFLOW_METRICS_PORT``): Prometheus metrics and health probes.

- ``GET /metrics``: every metric of :mod:`orderflow.metrics`, in Prometheus' text format.
- ``GET /health/live``: 200 while the inbound loop turns (its last turn within
  ``ORDERFLOW_LIVE_TIMEOUT_SECONDS``) and no component gave up; 503 otherwise.
- ``GET /health/ready``: 200 when partitions are assigned, the consumer is
  caught up (lag at most ``ORDERFLOW_READY_MAX_LAG``) and every follower runs;
  503 otherwise. Both answer a small JSON body saying why.

The answers come from the process's one :class:`~orderflow.supervision.Health`.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import REGISTRY, make_wsgi_app

from orderflow.settings import BadSetting
from orderflow.supervision import Health

log = structlog.get_logger("orderflow.health")


def probe(health: Health, which: str) -> tuple[bool, dict[str, Any]]:
    """Whether ``which`` (``live`` or ``ready``) holds, and a body saying why."""
    snapshot = health.snapshot()
    ok = snapshot[which]
    reasons = [f"{name}: {c['state']}" + (f" ({c['last_error']})" if c["last_error"] else "")
               for name, c in snapshot["components"].items() if c["state"] not in health.OK_STATES]
    if which == "live":
        beat = health.last_beat
        since = None if beat is None else round(health.clock() - beat, 1)
        if since is None or since >= health.stall_after:
            reasons.insert(0, "the main loop has not turned yet" if since is None else
                           f"the main loop last turned {since} s ago (limit {health.stall_after:g} s)")
        reasons = [r for r in reasons if ": failed" in r or r.startswith("the main loop")]
        return ok, {"live": ok, "last_turn_seconds_ago": since, "reasons": reasons}
    return ok, {"ready": ok, "reasons": reasons, "components": snapshot["components"]}


def application(health: Health, registry=REGISTRY) -> Callable:
    """The WSGI application: ``/metrics``, ``/health/live``, ``/health/ready``; 404 for anything else."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path in ("/health/live", "/health/ready"):
            ok, body = probe(health, path.rsplit("/", 1)[1])
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics, /health/live or /health/ready\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no plain-text access log on stderr
        pass


class HealthServer:
    """Serves :func:`application` on ``address:port`` in a daemon thread until :meth:`close`."""

    def __init__(self, health: Health, port: int, address: str = "0.0.0.0"):
        """Listen at once; :class:`~orderflow.settings.BadSetting` naming the variable if that cannot be had."""
        try:
            self.server = make_server(address, port, application(health), server_class=_Server, handler_class=_Quiet)
        except OSError as error:  # one line naming the variable, not a traceback
            reason = error.strerror or str(error)
            if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
                raise BadSetting(f"ORDERFLOW_METRICS_ADDRESS={address!r}: cannot listen there ({reason})") from None
            raise BadSetting(f"ORDERFLOW_METRICS_PORT={port}: cannot listen on {address}:{port} ({reason}); "
                             "another process (a second engine?) may hold it") from None
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics-http", daemon=True)
        self.thread.start()
        log.info("metrics and health served", address=address, port=self.port,
                 paths=["/metrics", "/health/live", "/health/ready"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
