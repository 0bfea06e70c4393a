"""The followers' own process: the read-model projections and the outbound publisher, beside ``orderflow run``.

Why a process of their own: the inbound loop and the followers are all Python, and in one process they
share one interpreter lock (a py-spy ``--gil`` profile of a backlog: inbound loop 39 %, outbound 30 %,
projections 23 %). In a second process the followers run on another core and the inbound loop keeps
its interpreter to itself.

``orderflow run`` (the parent) starts ``python -m orderflow.followers --parent PID`` with its own
environment, so with the same settings, and tends it from its main loop (:class:`FollowersProcess`):

- the child runs the ``projections`` and ``outbound`` :class:`~orderflow.supervision.Worker` threads
  under a :class:`~orderflow.supervision.Supervisor` of its own, with the same error policy; the stream
  locks keep one follower per stream, whatever the number of processes;
- it reports every change of its components' health as a JSON line on its stdout, a pipe to the parent,
  whose :class:`~orderflow.supervision.Health` takes them over: ``/health/ready`` and the parent's logs
  say whether the followers run;
- it runs at a lower CPU priority (``ORDERFLOW_FOLLOWERS_NICE``, default 10): the followers may lag a little,
  the inbound batch may not (its commit makes a message visible in the read models);
- it logs to the same stderr as the parent, every line with ``"process": "followers"`` and its ``pid``;
- if it dies (a crash, SIGKILL, out of memory), the parent logs it and starts another after the
  backoff, without ever exiting for it; if it exits 2 (a fatal error) or 3 (a follower kept failing),
  the parent stops with that code, as the single process did;
- SIGTERM or SIGINT to the parent: the parent sends SIGTERM to the child and waits for it;
- the child does not outlive a parent that could not stop it (SIGKILL): on Linux the kernel kills it
  with the parent (``PR_SET_PDEATHSIG``); anywhere, its stdin (a pipe from the parent) reaches end of
  file, and it stops.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from typing import IO, Any

import structlog

from orderflow import collector, logs
from orderflow.settings import BadSetting, Settings
from orderflow.supervision import FATAL, Backoff, ErrorPolicy, GaveUp, GiveUp, Stopped, Supervisor, Worker

log = structlog.get_logger("orderflow.followers")

COMPONENTS = ("projections", "outbound")
"""The child's workers, whose health the parent reports as its own."""
STOP_TIMEOUT = 30.0
"""Seconds the parent waits for the child after SIGTERM before it kills it (the outbound send timeout, 30 s)."""
ORPHAN_GRACE = 30.0
"""Seconds an orphaned child may take to stop cleanly before it exits at once."""
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class FollowersFailed(RuntimeError):
    """The followers process exited with a fatal error (exit code 2): the parent exits with it."""


class FollowersProcess:
    """The parent's handle on the followers process: started, watched, restarted and stopped.

    :meth:`tend` never blocks; call it from the thread that lives as long as the process (the inbound
    loop's): on Linux a child's death signal goes with the thread that started it.
    """

    def __init__(self, supervisor: Supervisor, backoff: Backoff, command: list[str] | None = None,
                 stop_timeout: float = STOP_TIMEOUT):
        self.supervisor = supervisor
        self.backoff = backoff
        self.command = command or [sys.executable, "-m", "orderflow.followers", "--parent", str(os.getpid())]
        self.stop_timeout = stop_timeout
        self.popen: subprocess.Popen | None = None
        self.restarts = 0
        """Ends in a row without a follower running in between: the backoff's attempt."""
        self._restart_at = 0.0
        self._asked: subprocess.Popen | None = None
        """The child already sent SIGTERM."""
        self._reader: threading.Thread | None = None
        for name in COMPONENTS:
            supervisor.health.set(name, "starting")

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def tend(self) -> None:
        """Notice whether the child ended, and start one when it is due."""
        if self.supervisor.stop.is_set():
            return
        if self.popen is not None:
            code = self.popen.poll()
            if code is None:
                return
            self._ended(code)
        if not self.supervisor.stop.is_set() and time.monotonic() >= self._restart_at:
            self._start()

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM, once), without waiting: :meth:`stop` waits.

        Once: a second SIGTERM could reach a child that is already exiting, after the interpreter's
        finalisation restored the default action, and kill it instead of letting it finish.
        """
        if self.popen is not None and self.popen.poll() is None and self._asked is not self.popen:
            self._asked = self.popen
            with suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop the child: SIGTERM, then wait up to :attr:`stop_timeout` seconds, then SIGKILL."""
        self.terminate()
        popen, self.popen = self.popen, None
        if popen is None:
            return
        try:
            code = popen.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("followers process did not stop in time: killing it", pid=popen.pid,
                        timeout=self.stop_timeout)
            popen.kill()
            code = popen.wait()
        self._close(popen)
        log.info("followers process stopped", pid=popen.pid, exit_code=code)

    def _start(self) -> None:
        # The child starts with the stop signals blocked (a mask survives fork and exec) and unblocks them once
        # it handles them: a SIGTERM during its start-up waits for it, instead of killing it half started.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            popen = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as error:  # no fork now (memory, a process limit): again after the backoff
            self._schedule(f"cannot start the followers process: {error}")
            return
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.popen = popen
        self._reader = threading.Thread(target=self._read_reports, args=(popen.stdout,), name="followers-reports",
                                        daemon=True)
        self._reader.start()
        log.info("followers process started", pid=popen.pid)

    def _ended(self, code: int) -> None:
        popen, self.popen = self.popen, None
        assert popen is not None
        self._close(popen)  # its last reports are read before its components are marked
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if code in (2, 3):
            if self.supervisor.error is None:
                self.supervisor.error = (GaveUp if code == 3 else FollowersFailed)(f"followers process {how}")
            for name in COMPONENTS:
                self.supervisor.health.set(name, "failed", self.restarts, f"followers process {how}")
            log.error("followers process cannot recover: stopping the process", pid=popen.pid, exit_code=code)
            self.supervisor.stop.set()
            return
        self._schedule(f"followers process ended: {how}", pid=popen.pid)

    def _schedule(self, reason: str, **about: Any) -> None:
        self.restarts += 1
        delay = self.backoff.delay(self.restarts)
        self._restart_at = time.monotonic() + delay
        log.error("followers process ended: restarting it with backoff", reason=reason, restarts=self.restarts,
                  restart_in_seconds=round(delay, 1), **about)
        for name in COMPONENTS:
            self.supervisor.health.set(name, "restarting", self.restarts, reason)

    def _close(self, popen: subprocess.Popen) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        for stream in (popen.stdin, popen.stdout):
            if stream is not None:
                with suppress(OSError):
                    stream.close()

    def _read_reports(self, stream: IO[bytes]) -> None:
        """Take over the child's health reports, one JSON object a line, until it closes its stdout."""
        with suppress(OSError, ValueError):
            for line in stream:
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(report, dict) or report.get("component") not in COMPONENTS:
                    continue
                state = str(report.get("state"))
                if state in ("running", "standby"):
                    self.restarts = 0
                self.supervisor.health.set(report["component"], state, int(report.get("failures") or 0),
                                           report.get("error"))


class _Reporter:
    """The child's side of the health reports: one JSON line per change, on the pipe to the parent."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, component: str, state: str, failures: int, error: str | None) -> None:
        line = json.dumps({"component": component, "state": state, "failures": failures, "error": error})
        with self.lock:
            with suppress(OSError, ValueError):  # the parent is gone: the watch on stdin stops this process
                self.stream.write(line.encode() + b"\n")


def run(settings: Settings, report: _Reporter | None = None, parent: int | None = None) -> int:
    """The followers until SIGTERM, SIGINT or the parent's end; the exit code (2 fatal, 3 gave up, else 0)."""
    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent until handled (a stop sent
    # during start-up arrives now)
    if parent is not None:
        threading.Thread(target=_watch_parent, args=(stop,), name="parent-watch", daemon=True).start()
    supervisor = Supervisor(
        stop,
        policy=ErrorPolicy(),
        backoff=Backoff(maximum=settings.backoff_max_seconds),
        give_up=GiveUp(settings.max_failures, settings.failure_window_seconds),
    )
    supervisor.health.on_change = report
    try:
        engine, outbound = supervisor.retry("startup", lambda: _start(settings), timeout=settings.startup_timeout_seconds)
    except Stopped:
        return 0
    workers = [
        Worker("projections", engine.projections.step, supervisor),
        Worker("outbound", outbound.step, supervisor, on_failure=outbound.reset_producer),
    ]
    try:
        for worker in workers:
            worker.start()
        collector.for_the_engine()
        log.info("followers running", parent=parent)
        while not stop.wait(1.0):
            pass
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        engine.close()
    if supervisor.error is not None:
        log.error("followers exit: a component cannot recover", exit_code=supervisor.exit_code,
                  error=str(supervisor.error), health=supervisor.health.snapshot())
    return supervisor.exit_code


def _start(settings: Settings) -> tuple[Any, Any]:
    """The engine and its outbound publisher; nothing left open if a step fails (start-up retries it)."""
    from orderflow.bootstrap import bootstrap

    engine = bootstrap(settings)
    try:
        return engine, engine.outbound_publisher()
    except BaseException:
        with suppress(Exception):
            engine.close()
        raise


def _watch_parent(stop: threading.Event) -> None:
    """Stop when stdin, the parent's pipe, reaches end of file (the parent ended); exit if stopping hangs."""
    with suppress(OSError):
        while os.read(0, 4096):  # the raw descriptor: a buffered reader's lock would hang the interpreter's exit
            pass
    if stop.is_set():
        return
    log.warning("parent's pipe closed (the parent ended): stopping")
    stop.set()
    time.sleep(ORPHAN_GRACE)
    log.error("followers did not stop in time after the parent's end: exiting")
    os._exit(1)


def _die_with_parent(parent: int) -> bool:
    """Have the kernel kill this process when its parent ends (Linux); False if the parent is gone already."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    return os.getppid() == parent  # checked after prctl: a parent that ended before it is noticed here


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow.followers",
                                     description="The projections and outbound followers; started by orderflow run.")
    parser.add_argument("--parent", type=int, required=True, help="the pid of the orderflow run that started it")
    args = parser.parse_args(argv)
    # Reports go to the pipe that was stdout; anything printed goes to stderr with the logs.
    report = _Reporter(os.fdopen(os.dup(1), "wb", buffering=0))
    os.dup2(2, 1)
    try:
        settings = Settings.from_env()
    except BadSetting as error:
        print(f"orderflow followers: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, fields={"process": "followers", "pid": os.getpid()})
    if settings.followers_nice:
        os.nice(settings.followers_nice)  # the inbound loop first: its commit is what makes a message visible
    if not _die_with_parent(args.parent):
        log.warning("parent process gone before the followers started", parent=args.parent)
        return 0
    try:
        return run(settings, report, parent=args.parent)
    except Exception as error:  # noqa: BLE001 - start-up failed for good; the parent decides by the exit code
        fatal = ErrorPolicy().classify(error) == FATAL
        log.error("followers cannot start", error=f"{type(error).__name__}: {error}"[:500], fatal=fatal,
                  exc_info=error)
        return 2 if fatal else 1


if __name__ == "__main__":
    sys.exit(main())
