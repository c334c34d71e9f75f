"""What ``/healthz`` reports: each part of the bot that can die on its own, and why.

An orchestrator restarts on 503; an operator reads which part died and the reason. Before,
``/healthz`` said 200 while live status had failed, while the NATS consumer had stopped
for good, and while the store refused writes: each part now answers for itself.

- ``store``: the store answers a read (a ``SELECT 1`` that never waits for a writer).
- ``store_writable``: the store takes a write — a one-row upsert, at most every
  ``PROBE_EVERY_S`` (a few writes a minute, whatever polls ``/healthz``), run in a thread
  of its own so a check never waits for the store's write lock; a probe still waiting
  after ``STALL_S`` is itself the answer.
- ``live_status``, ``nats``, ``outbox``: each reports its own ``problem()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import utcnow
from bot.store.engine import driver_said, reading
from bot.store.tables import store_probe

log = logging.getLogger(__name__)
PROBE_EVERY_S = 30.0
RETRY_S = 5.0
"""After a failed probe: soon enough to see the store come back."""
STALL_S = 30.0
"""A probe waiting this long for the write lock means writes are stuck (SQLite's busy timeout)."""


@dataclass(frozen=True, slots=True)
class Health:
    """Each part's problem, or None when it is fine."""

    parts: dict[str, str | None]

    @property
    def ok(self) -> bool:
        return all(problem is None for problem in self.parts.values())

    def as_json(self) -> dict[str, Any]:
        parts = {name: {"ok": True} if why is None else {"ok": False, "error": why} for name, why in self.parts.items()}
        answer: dict[str, Any] = {"ok": self.ok, "parts": parts}
        if not self.ok:
            answer["error"] = "; ".join(f"{name}: {why}" for name, why in self.parts.items() if why is not None)
        return answer


def store_reachable(engine: Engine) -> str | None:
    try:
        with reading(engine) as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"store unreachable: {_one_line(exc)}"
    return None


class StoreProbe:
    """Whether the store takes a write, as of the last probe (see the module's docstring)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._checked_at: float | None = None
        self._running_since: float | None = None

    def probe(self) -> str | None:
        """Write now, in this thread (start-up); the outcome, also kept for ``problem``."""
        try:
            self._write()
            problem = None
        except SQLAlchemyError as exc:
            problem = f"a write failed: {_one_line(exc)}"
            log.warning("store refused the health probe's write: %s", problem)
        with self._lock:
            self._problem, self._checked_at, self._running_since = problem, self.clock(), None
        return problem

    def problem(self) -> str | None:
        """The last probe's outcome; starts a new probe in the background when it is due."""
        now = self.clock()
        with self._lock:
            if self._running_since is not None:
                waited = now - self._running_since
                return f"a write has waited {waited:.0f} s for the store" if waited >= STALL_S else self._problem
            due = RETRY_S if self._problem is not None else PROBE_EVERY_S
            if self._checked_at is None or now - self._checked_at >= due:
                self._running_since = now
                threading.Thread(target=self.probe, name="store-probe", daemon=True).start()
            return self._problem

    def _write(self) -> None:
        postgres = self.engine.dialect.name == "postgresql"
        upsert = (postgresql.insert if postgres else sqlite.insert)(store_probe).values(probe_id=1, written_at=utcnow())
        with self.engine.begin() as conn:
            if postgres:  # only another replica's probe can hold the row: never wait long for it
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(
                upsert.on_conflict_do_update(index_elements=["probe_id"], set_={"written_at": upsert.excluded.written_at})
            )


def _one_line(exc: SQLAlchemyError) -> str:
    return driver_said(exc)[:300]
