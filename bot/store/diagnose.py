"""What is wrong with a store URL, in one line an operator can act on: which setting, what
the driver said, in words, and what to do. Read at 3 a.m. on a fresh machine, a SQLAlchemy
traceback says none of that."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SETTING = "LANEKEEPER_DATABASE_URL"
_REASONS = (
    (re.compile(r"password authentication failed|authentication failed", re.I), "refused the user {user}: wrong password"),
    (re.compile(r'role "[^"]*" does not exist', re.I), "has no user {user}"),
    (re.compile(r'database "[^"]*" does not exist', re.I), "has no database {database}; create it (createdb {database})"),
    (re.compile(r"could not translate host name|name or service not known|nodename nor servname", re.I), "cannot be found: "
     "no host named {host}"),
    (re.compile(r"connection refused", re.I), "refused the connection: is it running, on that port?"),
    (re.compile(r"timeout expired|timed out", re.I), "did not answer in time: is the address right, and reachable?"),
)  # fmt: skip


def parsed(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise ValueError(f"{SETTING}: not a URL; use sqlite:///PATH or postgresql://USER@HOST/DB") from None


def sqlite_location(url: str) -> str | None:
    """Why an SQLite URL cannot hold a server's store (in memory; its directory missing), or None."""
    database = parsed(url).database
    if not database or database == ":memory:":
        return (
            f"{SETTING}: an in-memory SQLite store is not shared by the server's connections and processes "
            "(nothing could be stored); use a file: sqlite:///PATH"
        )
    folder = Path(database).expanduser().parent
    if not folder.is_dir():
        return f"{SETTING}: the directory {folder} does not exist; create it, or point the URL at another path"
    return None


def explain(reason: str, url: str) -> str:
    """The driver's words about a failed connection, as one line naming the setting."""
    found = parsed(url)
    where = f"{found.host or 'localhost'}:{found.port or 5432}"
    names = {"user": found.username or "(none)", "database": found.database or "(none)", "host": found.host or "localhost"}
    for pattern, words in _REASONS:
        if pattern.search(reason):
            return f"{SETTING}: PostgreSQL at {where} {words.format(**names)}"
    one_line = " ".join(reason.split())
    return f"{SETTING}: the store at {found.render_as_string(hide_password=True)} cannot be used: {one_line}"
