"""Logging: readable lines in a terminal, one JSON object a line otherwise (production
log pipelines), with the incident id on every line that concerns one."""

from __future__ import annotations

import json
import logging
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


def configure(level: str = "INFO", json_lines: bool | None = None) -> None:
    """JSON when stderr is not a terminal unless told otherwise."""
    use_json = not sys.stderr.isatty() if json_lines is None else json_lines
    handler = logging.StreamHandler()
    handler.set_name(HANDLER)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in QUIET:  # their start-up lines say nothing an operator acts on; their warnings still show
        logging.getLogger(chatty).setLevel(logging.WARNING)


QUIET = ("alembic", "uvicorn", "uvicorn.error", "slack_bolt", "slack_sdk", "httpx", "nats")
