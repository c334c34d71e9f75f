"""Logging: readable lines in a terminal, one JSON object a line otherwise (production
log pipelines), with the incident id on every line that concerns one."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime

from validators.rules import stamp

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": stamp(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{datetime.fromtimestamp(record.created, UTC):%H:%M:%S} {record.levelname:<7} {record.getMessage()}"
        return f"{line}  {extra}" if extra else line


HANDLER = "lanekeeper"


def configure(level: str = "INFO", json_lines: bool | None = None, *, held: bool = False) -> None:
    """JSON when stderr is not a terminal unless told otherwise. ``held``: records are kept
    until ``release()``, so that ``serve``'s line saying what runs comes first, before what
    its parts said while starting (nothing is dropped)."""
    use_json = not sys.stderr.isatty() if json_lines is None else json_lines
    handler: logging.Handler = logging.StreamHandler()
    handler.set_name(HANDLER)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    if held:
        handler = logging.handlers.MemoryHandler(10_000, flushLevel=logging.CRITICAL + 1, target=handler)
        handler.set_name(HANDLER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in QUIET:  # their start-up lines say nothing an operator acts on; their warnings still show
        logging.getLogger(chatty).setLevel(logging.WARNING)


def release() -> None:
    """Write what was held (see ``configure``) and log straight to stderr from now on."""
    root = logging.getLogger()
    for held in [h for h in root.handlers if isinstance(h, logging.handlers.MemoryHandler)]:
        held.flush()
        root.handlers[root.handlers.index(held)] = held.target or logging.lastResort or logging.StreamHandler()
        held.close()


QUIET = ("alembic", "uvicorn", "uvicorn.error", "slack_bolt", "slack_sdk", "httpx", "nats")
