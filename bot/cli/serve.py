"""``lanekeeper serve``: the bot's HTTP server (and, with LANEKEEPER_NATS_URL, the NATS consumer)."""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import resource
import socket
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from bot import logs
from bot.config import Settings, SettingsError, load_settings
from bot.store.diagnose import sqlite_location
from bot.store.engine import StoreError
from bot.wiring import llm_configured

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

    logs.configure(json_lines=None if args.log_format is None else args.log_format == "json", held=True)
    try:
        settings = load_settings()
        check_start(settings, args.host, args.port)
        bot = Bot(settings)
        bot.start()
    except (SettingsError, StoreError, ValueError) as exc:  # one line, naming the setting and what to do
        print(f"lanekeeper serve: {exc}", file=sys.stderr)
        logs.release()
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
    print(started_line(settings, args.host, args.port, bot.engine.url.render_as_string(hide_password=True)), file=sys.stderr)
    logs.release()
    log.info("listening", extra={"open_files": files, "max_connections": bot.settings.max_connections})
    try:
        uvicorn.run(
            create_app(bot),
            host=args.host,
            port=args.port,
            log_config=None,
            log_level="warning",
            access_log=False,
            limit_concurrency=bot.settings.max_connections,
        )
    finally:
        bot.close()
    return 0


def check_start(settings: Settings, host: str, port: int) -> None:
    """Mistakes found before anything starts, each as one line naming what to change."""
    _check_store(settings.database_url)
    _check_slack(settings)
    _check_address(host, port)


def _check_store(url: str) -> None:
    problem = sqlite_location(url) if url.startswith("sqlite") else None
    if problem:
        raise SettingsError(problem)


_SLACK = {
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_APP_TOKEN": "slack_app_token",
    "LANEKEEPER_CHANNEL": "channel",
}


def _check_slack(settings: Settings) -> None:
    for name, field in _SLACK.items():
        value = getattr(settings, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not text.strip():
            raise SettingsError(f"{name}: is blank; set it, or remove it to run without Slack")
    token, secret = settings.slack_bot_token is not None, settings.slack_signing_secret is not None
    if token != secret:
        have, need = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if token else ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
        raise SettingsError(
            f"{need}: required with {have} (Slack needs both: the token to post, the secret to check Slack's requests); "
            "set both, or neither to run without Slack"
        )
    if token and settings.channel is None:
        raise SettingsError("LANEKEEPER_CHANNEL: required with SLACK_BOT_TOKEN (the channel incidents are posted to, by id)")
    if settings.slack_app_token is not None and not token:
        raise SettingsError("SLACK_BOT_TOKEN: required with SLACK_APP_TOKEN (Socket Mode carries requests, not the posts)")


def _check_address(host: str, port: int) -> None:
    """Bound as uvicorn binds (SO_REUSEADDR: a restart is not refused for the old
    connections' TIME_WAIT), for the address family the host resolves to."""
    if not 1 <= port <= 65535:
        raise SettingsError(f"--port: {port} is not a port; choose one from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        raise SettingsError(
            f"--host: {host} cannot be found ({reason}); use an address or a name this machine resolves"
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"--port: {port} on {host} is in use (another lanekeeper serve?); stop what holds it, or choose another "
                    "with --port"
                ) from None
            raise SettingsError(f"--host: cannot listen on {host} port {port}: {exc.strerror}") from None


def started_line(settings: Settings, host: str, port: int, store: str) -> str:
    """What runs, in one line: an operator learns now, not an hour later, that nothing will be posted."""
    origin = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    if settings.slack_bot_token is None:
        slack = "Slack is not configured; nothing will be posted"
    else:
        mode = "Socket Mode" if settings.slack_app_token is not None else f"HTTP at {origin}/slack/events"
        slack = f"Slack: {mode}, posting to {settings.channel}"
    llm = f"LLM: {settings.model}" if llm_configured(settings) else "LLM: none, facts-only summaries"
    nats = f"NATS: {settings.nats_stream} at {without_password(settings.nats_url)}" if settings.nats_url else "NATS: off"
    return f"lanekeeper serve: listening on {origin} · store {store} · {slack} · {llm} · {nats}"


def without_password(url: str) -> str:
    """``nats://user:***@host``: a start-up line is copied into tickets and chats."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


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
