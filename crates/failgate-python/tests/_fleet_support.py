"""Helpers for test_fleet.py: a throwaway redis-server, a tiny Redis client, polling with a
deadline, and peers (a forked child or a separate process) driven over pipes.

Run as a script (``python _fleet_support.py CONFIG_JSON``) it is the separate process: it
builds a FleetBreaker from the JSON and obeys one command a line on stdin, answering one
line on stdout, so a test can interleave what each process does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import failgate

# Real network, real time: generous, because the machine is small and shared.
DEADLINE = 10.0
POLL_EVERY = 0.02


def free_port() -> int:
    """A loopback port nothing listens on (redis has no `--port 0`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Polls ``predicate`` every 20 ms until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(POLL_EVERY)


@dataclasses.dataclass(frozen=True)
class Redis:
    """A Redis to test against; ``owned`` when the suite started it (then it may be
    inspected as a whole: nobody else's clients are on it)."""

    url: str
    host: str
    port: int
    password: str | None = None
    owned: bool = False

    @classmethod
    def from_url(cls, url: str) -> Redis:
        parts = urllib.parse.urlsplit(url)
        return cls(url, parts.hostname or "127.0.0.1", parts.port or 6379, parts.password)

    def command(self, *args: str, timeout: float = 5.0) -> Any:
        """Sends one command and returns its decoded reply (RESP2): a client of a dozen
        lines instead of a dependency (redis-py is not in the venv)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if self.password is not None:
                s.sendall(_encode("AUTH", self.password))
                _reply(f)
            s.sendall(_encode(*args))
            return _reply(f)

    def client_addrs(self) -> set[str]:
        """The addresses of the clients connected, except the one asking (CLIENT LIST's
        ``addr``): a new connection shows as a new address."""
        listing: str = self.command("CLIENT", "LIST")
        addrs = set()
        for entry in listing.splitlines():
            fields = dict(f.split("=", 1) for f in entry.split() if "=" in f)
            if fields.get("cmd") != "client|list":
                addrs.add(fields["addr"])
        return addrs

    def pings(self) -> bool:
        try:
            return bool(self.command("PING", timeout=0.5) == "PONG")
        except (OSError, RuntimeError):
            return False


def _encode(*args: str) -> bytes:
    return (f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)).encode()


def _reply(f: IO[bytes]) -> Any:
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(f"redis error: {rest}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if rest == "-1" else f.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return None if rest == "-1" else [_reply(f) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected reply {line!r}")


@contextmanager
def redis_server(port: int | None = None) -> Iterator[Redis]:
    """Starts redis-server on loopback without persistence, on ``port`` or a free one.
    Raises FileNotFoundError when redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    for _attempt in range(3):  # a free port may be taken before redis binds it
        chosen = port or free_port()
        redis = Redis(f"redis://127.0.0.1:{chosen}", "127.0.0.1", chosen, owned=True)
        proc = subprocess.Popen(
            [binary, "--port", str(chosen), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: redis.pings() or proc.poll() is not None)
            if proc.poll() is None and redis.pings():
                yield redis
                return
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    raise RuntimeError("redis-server did not start in three tries")


def config(url: str, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of a small fleet breaker in a namespace of its own (a
    uuid: no two tests share state). JSON-friendly, so a separate process can get them.

    Four calls at half failures trip it; open a minute, so an opening cannot end during
    a test; flushes every 20 ms; a 1 s redis_timeout, so a busy machine does not make it
    fall back to local mid-test."""
    kwargs: dict[str, Any] = {
        "name": "inventory",
        "redis": url,
        "namespace": f"test-{uuid.uuid4().hex}",
        "failure_rate": 0.5,
        "window": "30s",
        "minimum_calls": 4,
        "open_for": 60,
        "flush_interval": "20ms",
        "redis_timeout": "1s",
    }
    kwargs.update(overrides)
    return kwargs


def build(kwargs: dict[str, Any]) -> failgate.FleetBreaker:
    """A FleetBreaker from `config`'s arguments ("window" given as a TimeWindow span)."""
    args = dict(kwargs)
    name = args.pop("name")
    window = args.pop("window", None)
    if window is not None:
        args["window"] = failgate.TimeWindow(window)
    return failgate.FleetBreaker(name, **args)


def fail(breaker: failgate.FleetBreaker, times: int) -> tuple[int, int]:
    """Makes ``times`` failing calls; returns (failed, refused)."""
    failed = refused = 0
    for _ in range(times):
        try:
            breaker.call(_down)
        except ConnectionError:
            failed += 1
        except failgate.CircuitOpenError:
            refused += 1
    return failed, refused


def _down() -> None:
    raise ConnectionError("dependency down")


# --- the peer protocol: one command a line, one answer a line -----------------------

def obey(breaker: failgate.FleetBreaker, line: str) -> str:
    """Carries out one command of a peer (the other process) and returns its answer."""
    words = line.split()
    verb, rest = words[0], words[1:]
    if verb == "state":
        return str(breaker.state)
    if verb == "mode":
        return breaker.mode
    if verb == "status":
        return json.dumps({k: str(v) if k == "state" else v for k, v in breaker.status().items()})
    if verb == "fail":
        return "%d %d" % fail(breaker, int(rest[0]))
    if verb == "succeed":
        for _ in range(int(rest[0])):
            breaker.call(lambda: None)
        return "ok"
    if verb == "wait_state":
        return "ok" if wait_for(lambda: breaker.state == rest[0]) else f"timeout {breaker.state}"
    if verb == "wait_mode":
        return "ok" if wait_for(lambda: breaker.mode == rest[0]) else f"timeout {breaker.mode}"
    if verb in ("reset", "force_open"):
        getattr(breaker, verb)()
        return "ok"
    if verb == "refused":
        try:
            breaker.call(lambda: None)
        except failgate.CircuitOpenError as e:
            return f"refused {e.state} {e.retry_after}"
        return "admitted"
    raise ValueError(f"unknown command {line!r}")


def serve(breaker: failgate.FleetBreaker, commands: IO[str], answers: IO[str]) -> None:
    """Obeys commands until "quit" or end of input; an error is answered, not raised."""
    for line in commands:
        if line.strip() == "quit":
            break
        try:
            answer = obey(breaker, line)
        except Exception:
            answer = "error " + traceback.format_exc().replace("\n", " | ")
        answers.write(answer + "\n")
        answers.flush()


class Peer:
    """The test's end of the pipes to a peer process, with a deadline on every answer:
    a hung peer fails the test and is killed, it never hangs the suite."""

    def __init__(self, pid: int, to_peer: int, from_peer: int,
                 popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid, self._to, self._from, self._popen = pid, to_peer, from_peer, popen
        self._buffer = b""

    def ask(self, line: str, timeout: float = DEADLINE + 5) -> str:
        """Sends one command and returns the peer's answer."""
        os.write(self._to, (line + "\n").encode())
        return self.read_line(line, timeout)

    def read_line(self, awaiting: str = "ready", timeout: float = DEADLINE + 5) -> str:
        """The peer's next line, within ``timeout`` seconds (else it is killed)."""
        end = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            ready, _, _ = select.select([self._from], [], [], max(left, 0))
            if not ready:
                self.kill()
                raise TimeoutError(f"peer {self.pid} gave no answer to {awaiting!r} in {timeout}s")
            chunk = os.read(self._from, 65536)
            if not chunk:
                raise EOFError(f"peer {self.pid} exited before answering {awaiting!r}")
            self._buffer += chunk
        answer, _, self._buffer = self._buffer.partition(b"\n")
        return answer.decode()

    def close(self, timeout: float = 10.0) -> int:
        """Asks the peer to quit and reaps it (killing it after ``timeout``); returns
        its exit status (negative: killed by that signal)."""
        try:
            os.write(self._to, b"quit\n")
        except OSError:
            pass  # it exited already
        end = time.monotonic() + timeout
        while True:
            status = self._reap()
            if status is not None:
                break
            if time.monotonic() >= end:
                self.kill()
                status = self._reap(block=True)
                assert status is not None
                break
            time.sleep(POLL_EVERY)
        if self._popen is not None:  # its file objects own the descriptors
            for pipe in (self._popen.stdin, self._popen.stdout):
                if pipe is not None:
                    pipe.close()
        else:
            os.close(self._to)
            os.close(self._from)
        return status

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _reap(self, block: bool = False) -> int | None:
        if self._popen is not None:
            return self._popen.wait() if block else self._popen.poll()
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        return os.waitstatus_to_exitcode(status)


def fork_peer(
    breaker: failgate.FleetBreaker | Callable[[], failgate.FleetBreaker],
) -> Peer:
    """Forks; the child serves commands on ``breaker`` (the parent's object, inherited),
    or on the one a factory builds in the child, and leaves with os._exit (never through
    pytest's cleanup): 0 after "quit", 1 after an error outside a command."""
    cmd_r, cmd_w = os.pipe()
    ans_r, ans_w = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock: forking a
        # process with the fleet runtime's thread is exactly what this test is about.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(cmd_w)
            os.close(ans_r)
            # (A FleetBreaker is callable too: it decorates.)
            if not isinstance(breaker, failgate.FleetBreaker):
                breaker = breaker()
            with os.fdopen(cmd_r, "r") as commands, os.fdopen(ans_w, "w") as answers:
                serve(breaker, commands, answers)
            code = 0
        finally:
            os._exit(code)
    os.close(cmd_r)
    os.close(ans_w)
    return Peer(pid, cmd_w, ans_r)


def spawn_peer(kwargs: dict[str, Any]) -> Peer:
    """Starts this file as a separate Python process with a breaker built from
    ``kwargs`` (see `config`)."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), json.dumps(kwargs)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
    )
    assert proc.stdin is not None and proc.stdout is not None
    peer = Peer(proc.pid, proc.stdin.fileno(), proc.stdout.fileno(), popen=proc)
    try:
        ready = peer.read_line("ready", timeout=30.0)  # a cold interpreter import
    except BaseException:
        peer.close()
        raise
    if ready != "ready":
        peer.close()
        raise RuntimeError(f"the peer process did not start: {ready!r}")
    return peer


def _main() -> None:
    breaker = build(json.loads(sys.argv[1]))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    serve(breaker, sys.stdin, sys.stdout)


if __name__ == "__main__":
    _main()
