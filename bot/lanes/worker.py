"""Live lane status in a process of its own.

Folding events into live status costs about as much CPU as parsing and storing them; in
the ingesting process the two would share one core (the GIL) and together set the ingest
rate. Here the fold runs in a child process on another core: the server sends it each
committed batch as NDJSON (one C call to encode, one to decode) and asks it for status.

One pipe carries both, in order, so a status request sent after a batch was handed over
is answered with that batch in it: a reader who saw a post acknowledged sees its events.
The parent's clock travels with every message, so a test's clock governs the child too.
A child that fails or dies is reported to every reader, never silently stale — and to
``/healthz`` at once: a failure is also sent up a pipe of its own, which the health check
reads without waiting behind the batches queued for the child.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from bot.lanes.live import LaneStatus, LiveLanes
from bot.processes import CONTEXT, die_with_parent
from validators.events import Event, KnownEventUnion, UnknownEvent

log = logging.getLogger(__name__)
_encode_lines = msgspec.json.Encoder().encode_lines


class LiveStatusError(RuntimeError):
    """Live status is wrong or gone; restarting rebuilds it from the store."""


def _serve(conn: Connection, errors: Connection, window: timedelta) -> None:
    """The child's loop: ``add`` messages fold a batch, ``status`` ones are answered; the
    first failure is also sent on ``errors``."""
    die_with_parent()
    clock = [datetime.min]
    live = LiveLanes(window, now=lambda: clock[0])
    known, unknown = msgspec.json.Decoder(KnownEventUnion), msgspec.json.Decoder(UnknownEvent)
    failure: str | None = None
    while True:
        try:
            message: tuple[Any, ...] = conn.recv()
        except EOFError:  # the server is gone
            return
        verb, clock[0] = message[0], message[1]
        try:
            if verb == "add" and failure is None:
                live.add([*known.decode_lines(message[2]), *unknown.decode_lines(message[3])])
            elif verb == "status":
                conn.send(("failed", failure) if failure is not None else ("ok", live.status(message[2])))
        except Exception as exc:  # a bug in live status: reported to every reader from now on
            failure = f"{type(exc).__name__}: {exc}"
            errors.send(failure)
            if verb == "status":
                conn.send(("failed", failure))


class LiveWorker:
    """The server's handle on the child; ``add`` and ``status`` as on ``LiveLanes``."""

    def __init__(self, window: timedelta, now: Callable[[], datetime]) -> None:
        self.now = now
        self._conn, child = CONTEXT.Pipe()
        self._errors, child_errors = CONTEXT.Pipe(duplex=False)
        self._process = CONTEXT.Process(
            target=_serve, args=(child, child_errors, window), name="lanekeeper-live-status", daemon=True
        )
        self._process.start()
        child.close()
        child_errors.close()
        self._lock = threading.Lock()  # one message at a time on the pipe, replies in order
        self._errors_lock = threading.Lock()
        self._failure: str | None = None

    def add(self, events: Sequence[Event]) -> None:
        """Hand a committed batch over; returns once the child has it (not folded yet)."""
        if not events:
            return
        unknown = [ev for ev in events if type(ev) is UnknownEvent]
        known = [ev for ev in events if type(ev) is not UnknownEvent] if unknown else events
        message = ("add", self.now(), _encode_lines(known), _encode_lines(unknown))
        with self._lock:
            self._send(message)

    def status(self, lane: str | None = None) -> dict[str, LaneStatus]:
        """Every lane's status (or ``lane``'s), with every batch handed over before."""
        with self._lock:
            self._send(("status", self.now(), lane))
            try:
                outcome, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise self._gone() from exc
        if outcome == "failed":
            raise LiveStatusError(f"live lane status failed ({value}); restart to rebuild it from the store")
        status: dict[str, LaneStatus] = value
        return status

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise self._gone() from exc

    def problem(self) -> str | None:
        """Why live status cannot answer (the child failed or exited), for ``/healthz``;
        else None. Never waits for the child."""
        with self._errors_lock:
            if self._failure is None and self._errors.poll():
                with contextlib.suppress(EOFError, OSError):  # the child exited: said below
                    self._failure = str(self._errors.recv())
        if self._failure is not None:
            return f"live lane status failed ({self._failure}); restart to rebuild it from the store"
        if self._process.is_alive():
            return None
        return str(self._gone())

    def _gone(self) -> LiveStatusError:
        self._process.join(timeout=1)
        return LiveStatusError(
            f"live lane status process exited (code {self._process.exitcode}); restart to rebuild it from the store"
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._errors_lock:
            self._errors.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
