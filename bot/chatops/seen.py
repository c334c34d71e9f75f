"""Slack requests and events already taken, remembered in the store so that every replica
refuses a replay the first one took (issue 20: a replay sent to another replica within
bolt's five-minute tolerance was run again).

The first insert of a key wins, whichever replica makes it (a primary key and ON CONFLICT
DO NOTHING: one round trip, no read-then-write race). Each process also keeps the keys it
took, so a replay to the same replica costs no query, and so that a store that cannot be
written (down, read-only) still leaves the replica its own memory, as before, instead of
refusing Slack altogether.

Replicas run on PostgreSQL; an SQLite store has one server, so there the process's memory
is the whole truth and a slash command never waits behind an ingest's write lock.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError

from bot.store.engine import insert_new
from bot.store.tables import slack_seen

log = logging.getLogger(__name__)

KEEP_S = 15 * 60
"""Longer than bolt's five-minute timestamp tolerance (a replay older is refused as stale
anyway) and than Slack's last event retry (about five minutes after the first)."""
PRUNE_EVERY = 500
"""Inserts between deletions of keys older than ``KEEP_S``."""
_KEY_CHARS = 160


class Seen:
    """Keys already processed (bounded, oldest forgotten first), in this process."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self.bound:
                self._keys.popitem(last=False)
            return True


class SeenInStore:
    """Keys already processed by any replica on this store."""

    def __init__(self, engine: Engine, bound: int, now: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.local = Seen(bound)
        self._now = now
        self._inserts = 0
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        if not self.local.first_time(key):
            return False
        stored = _storable(key)
        at_us = int(self._now() * 1_000_000)
        try:
            with self.engine.begin() as conn:
                taken = insert_new(conn, slack_seen, {"key": stored, "seen_at": at_us})
                if self._due():
                    conn.execute(delete(slack_seen).where(slack_seen.c.seen_at < at_us - KEEP_S * 1_000_000))
        except SQLAlchemyError as exc:
            log.warning("the replay guard cannot use the store (%s); this replica's memory alone decides", type(exc).__name__)
            return True
        return taken

    def _due(self) -> bool:
        with self._lock:
            self._inserts += 1
            return self._inserts % PRUNE_EVERY == 1


def _storable(key: str) -> str:
    """The key as the column takes it: one too long, with a NUL (PostgreSQL refuses it in
    text) or a lone surrogate (from a JSON ``\\udcff``; no UTF-8) is stored as its digest,
    so that no key makes the guard fail open."""
    try:
        if len(key) <= _KEY_CHARS and "\x00" not in key:
            key.encode("utf-8")
            return key
    except UnicodeEncodeError:
        pass
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def replay_guard(engine: Engine, bound: int) -> Seen | SeenInStore:
    """Shared through the store where replicas can share it (PostgreSQL), else this process's."""
    return SeenInStore(engine, bound) if engine.dialect.name == "postgresql" else Seen(bound)
