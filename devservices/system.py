"""Processes, ports and commands: what both servers need."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def terminate_group(pid: int, running: Callable[[], bool], timeout: float = 30.0) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if still ``running()`` after ``timeout`` s."""
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        if wait_until(lambda: not running(), grace):
            return


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (our PID 1 may be slow to reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (return True) or ``timeout`` s pass (return False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    with contextlib.ExitStack() as stack:
        for sock in sockets:
            stack.enter_context(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def run(command: list[object], secrets: Iterable[str] = (), **kwargs: object) -> None:
    """Run ``command``; raise RuntimeError carrying its output (each of ``secrets`` as ``***``) if it fails."""
    result = subprocess.run([str(arg) for arg in command], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, **kwargs)
    if result.returncode:
        output = f"{result.stdout}{result.stderr}"
        for secret in secrets:
            if secret:
                output = output.replace(secret, "***")
        raise RuntimeError(f"{Path(str(command[0])).name} exited with {result.returncode}:\n{output}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
