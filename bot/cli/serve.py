"""``lanekeeper serve``: the bot's HTTP server (and, with LANEKEEPER_NATS_URL, the NATS consumer)."""

from __future__ import annotations

import argparse
import gc
import logging
import resource
import sys
from typing import Any

from bot import logs
from bot.config import SettingsError, load_settings
from bot.store.engine import StoreError

log = logging.getLogger("lanekeeper")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the bot: webhooks, events, health, metrics")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--log-format", choices=["json", "text"], help="default: text on a terminal, else json")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The server's stack (FastAPI, slack-bolt, openai) loads only to serve: every other
    # command starts in a fraction of a second.
    import uvicorn  # noqa: PLC0415

    from bot.http.app import create_app  # noqa: PLC0415
    from bot.runtime import Bot  # noqa: PLC0415

    logs.configure(json_lines=None if args.log_format is None else args.log_format == "json")
    try:
        bot = Bot(load_settings())
        bot.start()
    except (SettingsError, StoreError) as exc:
        print(f"lanekeeper serve: {exc}", file=sys.stderr)
        return 2
    # Ingest allocates hundreds of thousands of objects a second; with the default thresholds
    # the cyclic collector walks them every few thousand allocations. Nothing on the hot path
    # builds reference cycles, so collect rarely.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    # Summaries decode a window's events on a worker thread (CPU-bound). With the default
    # 5 ms switch interval each GIL hand-off of a request (a facts card: a few queries and a
    # Slack call) may wait that long behind it; 1 ms keeps cards fast during a burst.
    sys.setswitchinterval(0.001)
    files = raise_open_file_limit()
    log.info(
        "listening",
        extra={
            "host": args.host,
            "port": args.port,
            "store": bot.engine.url.render_as_string(hide_password=True),
            "open_files": files,
            "max_connections": bot.settings.max_connections,
        },
    )
    try:
        uvicorn.run(
            create_app(bot),
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            limit_concurrency=bot.settings.max_connections,
        )
    finally:
        bot.close()
    return 0


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one; the limit now in force. A shell's
    default soft limit is often 1,024: 1,100 slow senders then took every descriptor, and
    /healthz, /events and the store's own connections failed with them (issue 15)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:  # a container may refuse: the old limit stays, and is logged
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
