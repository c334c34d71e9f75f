"""One sender at a time: replicas share the store's outbox, and only the one holding this
lock delivers it, so no message is sent twice by two replicas.

The lock dies with its holder: on PostgreSQL a session advisory lock on a connection kept
for it (a killed process's session ends, and the lock with it); on SQLite an exclusive
``flock`` on a file beside the database (the kernel drops it when the process dies).
Whoever holds it checks it before every send, so a lock lost with its connection (a
database restart) stops delivery until it is taken again.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
_PG_OUTBOX_LOCK = 0x4C4B4F42  # "LKOB"


class SenderLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._fd: int | None = None
        database = make_url(engine.url).database if engine.dialect.name == "sqlite" else None
        self._path = Path(database + "-outbox.lock") if database and database != ":memory:" else None

    def held(self) -> bool:
        """Whether this process may send now; takes the lock when it is free."""
        if self.engine.dialect.name == "postgresql":
            return self._pg_held()
        if self._path is None:  # an in-memory store has one process by definition
            return True
        if self._fd is None:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            log.info("this process sends the Slack outbox")
        return True

    def _pg_held(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                return True
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")  # never idle in a transaction
            if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _PG_OUTBOX_LOCK}).scalar():
                conn.close()
                return False
            self._conn = conn
            log.info("this process sends the Slack outbox")
            return True
        except DBAPIError as exc:
            log.warning("outbox lock lost with its connection (%s); sending stops until it is taken again", exc.orig)
            self._drop()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            try:  # closed, not pooled: a pooled session would keep the lock
                self._conn.invalidate()
            finally:
                self._conn = None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
        self._drop()
