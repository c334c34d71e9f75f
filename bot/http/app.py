"""The HTTP server (contract §6): webhooks, events, health, metrics, status.

Handlers stay thin: read the body within the size limit, hand it to ingestion or the
incident engine, answer. Anything that touches the store runs in a worker thread so the
event loop keeps answering ``/healthz`` during a large ingest. A store outage answers 503
(senders retry; nothing is acknowledged that was not committed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from bot.alerts import SENDERS, Credentials, LaneRule, PayloadError, Reason, bearer
from bot.chatops.app import SlackApp, build_slack_app, connect_socket_mode
from bot.http import openapi
from bot.http.body import BodyPace, BodyTooLarge, BodyTooSlow, read_body, stream_body
from bot.incidents import IncidentError
from bot.incidents.engine import IncidentStatus
from bot.incidents.views import MAX_LISTED, list_incidents, show_incident
from bot.lanes.snapshot import describe
from bot.lanes.worker import LiveStatusError
from bot.runtime import Bot

log = logging.getLogger(__name__)
SENDER = Path(description=openapi.SENDERS_DOC, json_schema_extra={"enum": list(SENDERS)})


class Refused(Exception):
    """A sender's request refused: answered with ``status``, counted by sender and reason."""

    def __init__(self, sender: str, reason: Reason, status: int, message: str) -> None:
        super().__init__(message)
        self.sender = sender
        self.reason = reason
        self.status = status


@contextmanager
def counted(sender: str) -> Iterator[None]:
    """A sender's body over the size limit or slower than its deadline: refused and counted."""
    try:
        yield
    except BodyTooLarge as exc:
        raise Refused(sender, "too_large", 413, str(exc)) from None
    except BodyTooSlow as exc:
        raise Refused(sender, "too_slow", 408, str(exc)) from None


def create_app(bot: Bot, *, background: bool = True) -> FastAPI:
    slack = build_slack_app(bot)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(bot.background(stop))] if background else []
        token = bot.settings.slack_app_token
        socket = await run_in_threadpool(connect_socket_mode, slack.app, token.get_secret_value()) if slack and token else None
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            if socket is not None:
                socket.close()  # type: ignore[no-untyped-call]
            if slack is not None:
                await run_in_threadpool(slack.drills.close)

    app = FastAPI(title="Lanekeeper", version="1", lifespan=lifespan)
    app.state.body_pace = BodyPace(bot.settings.body_timeout.total_seconds(), bot.settings.body_min_rate)

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        bot.metrics.request_seconds.labels(request.method, path, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(OperationalError)
    async def store_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("store unavailable: %s", exc.orig)
        return JSONResponse({"error": f"store unavailable, nothing acknowledged; retry: {exc.orig}"}, status_code=503)

    @app.exception_handler(LiveStatusError)
    async def live_status_down(_: Request, exc: LiveStatusError) -> JSONResponse:
        log.error("%s", exc)
        return JSONResponse({"error": str(exc)}, status_code=503)

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=413)

    @app.exception_handler(BodyTooSlow)
    async def too_slow(_: Request, exc: BodyTooSlow) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=408, headers={"connection": "close"})

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        bot.metrics.payloads_rejected.labels(exc.sender, exc.reason).inc()
        key = "detail" if exc.status in (401, 404) else "error"  # FastAPI's own shape for these, as documented
        headers = {"connection": "close"} if exc.status == 408 else None  # a sender that slow gets no second try on it
        return JSONResponse({key: str(exc)}, status_code=exc.status, headers=headers)

    _ingest_routes(app, bot)
    _read_routes(app, bot)
    _slack_routes(app, bot, slack)
    openapi.install(app)
    return app


def _ingest_routes(app: FastAPI, bot: Bot) -> None:
    """Everything senders post: events, and the webhooks of the senders in ``bot.alerts.senders``."""
    settings = bot.settings
    token = settings.webhook_token
    credentials = Credentials(None if token is None else token.get_secret_value(), tuple(settings.pagerduty_secrets))
    lanes = LaneRule(settings.lane_label, bot.policy.pagerduty_services)

    @app.post("/events", openapi_extra=openapi.EVENTS_BODY)
    async def post_events(request: Request) -> JSONResponse:
        """NDJSON settlement events (contract §1): valid lines are committed even when others are not."""
        refusal = bearer(b"", request.headers, credentials)
        if refusal is not None:
            raise Refused("events", refusal.reason, 401, refusal.message)
        session = bot.ingestor.session()
        with counted("events"):
            async for chunk in stream_body(request, settings.max_body_bytes, request.app.state.body_pace):
                if b"\n" in chunk:  # lines to decode, maybe a batch to commit: off the event loop
                    await run_in_threadpool(session.feed, chunk)
                else:  # only held until its line ends: a thread hop per trickled byte would cost more
                    session.feed(chunk)
        report = await run_in_threadpool(session.close)
        status = 422 if report.rejected_total and not report.accepted else 200
        return JSONResponse(report.as_json(), status_code=status)

    @app.post("/webhooks/{sender}", openapi_extra=openapi.WEBHOOK_BODY)
    async def post_webhook(sender: str = SENDER, *, request: Request) -> JSONResponse:
        """A sender's webhook payload, unchanged: Alertmanager (v4), Grafana or PagerDuty (V3)."""
        found = SENDERS.get(sender)
        if found is None:
            raise Refused("unknown", "unknown_sender", 404, f"unknown sender {sender!r}; use one of {', '.join(SENDERS)}")
        with counted(sender):
            body = await webhook_body(request, settings.max_webhook_bytes)
        refusal = found.authenticate(body, request.headers, credentials)
        if refusal is not None:
            raise Refused(sender, refusal.reason, 401, refusal.message)
        try:
            alerts = found.parse(body, lanes)
        except PayloadError as exc:
            raise Refused(sender, "malformed", exc.status, exc.reason) from None
        received = await run_in_threadpool(bot.receive_alerts, alerts)
        counter = bot.metrics.alerts
        for outcome in ("new", "duplicates", "resolved", "muted"):
            counter.labels(sender, outcome.removesuffix("s")).inc(getattr(received, outcome))
        for silenced, count in received.silenced_senders.items():  # an earlier alert may be another sender's
            counter.labels(silenced, "inhibited").inc(count)
        return JSONResponse(
            {
                "alerts": len(alerts),
                "new": received.new,
                "duplicates": received.duplicates,
                "resolved": received.resolved,
                "inhibited": received.inhibited,
                "muted": received.muted,
                "incidents": sorted(received.incidents),
            }
        )


def _read_routes(app: FastAPI, bot: Bot) -> None:
    """Health, metrics and what people and dashboards read."""

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Each part's state; 503 naming every dead part and why (``bot.health``)."""
        health = await run_in_threadpool(bot.health)
        return JSONResponse(health.as_json(), status_code=200 if health.ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(bot.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/lanes")
    async def lanes() -> dict[str, Any]:
        """Live lane status: read from memory, no scan of events."""
        statuses = await run_in_threadpool(bot.lane_status)
        return {"lanes": [describe(s, bot.policy) for s in statuses.values()]}

    @app.get("/lanes/{lane}")
    async def lane(lane: str) -> dict[str, Any]:
        found = await run_in_threadpool(bot.lane_status, lane)
        if lane not in found:
            raise HTTPException(404, f"no events seen for lane {lane!r}")
        return describe(found[lane], bot.policy)

    @app.get("/incidents")
    async def incidents(status: IncidentStatus | None = None, limit: int = Query(50, ge=1, le=MAX_LISTED)) -> dict[str, Any]:
        rows = await run_in_threadpool(list_incidents, bot.engine, status, limit)
        return {"incidents": [r.as_json() for r in rows]}

    @app.get("/incidents/{incident_id}")
    async def incident(incident_id: str) -> dict[str, Any]:
        try:
            detail = await run_in_threadpool(show_incident, bot.engine, incident_id)
        except IncidentError as exc:
            raise HTTPException(404, str(exc)) from None
        return detail.as_json()


def _slack_routes(app: FastAPI, bot: Bot, slack: SlackApp | None) -> None:
    """``/slack/events``: slash commands, button clicks and events, through slack-bolt."""

    @app.post("/slack/events", openapi_extra=openapi.SLACK_BODY)
    async def slack_events(request: Request) -> Response:
        if slack is None:
            raise HTTPException(404, "Slack is not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)")
        body = await read_body(
            request, bot.settings.max_webhook_bytes, request.app.state.body_pace, "LANEKEEPER_MAX_WEBHOOK_BYTES"
        )
        # Checked before bolt, which decodes and parses a body before it verifies it: an unsigned
        # body of any bytes is a 401 here, and only a signed one is read at all.
        if not slack.signed(body, request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature")):
            return JSONResponse({"error": "missing, wrong or stale Slack signature"}, status_code=401)
        problem = unreadable(body, request.headers.get("content-type", ""))
        if problem is not None:
            return JSONResponse({"error": problem}, status_code=400)
        answer = await run_in_threadpool(slack.app.dispatch, to_bolt_request(request, body))  # bolt's listeners are sync
        return to_starlette_response(answer)


async def webhook_body(request: Request, limit: int) -> bytes:
    """A webhook's or Slack's body, whole: bounded in size and time."""
    return await read_body(request, limit, request.app.state.body_pace, "LANEKEEPER_MAX_WEBHOOK_BYTES")


def unreadable(body: bytes, content_type: str) -> str | None:
    """Why a signed (so UTF-8) Slack body cannot be read, or None."""
    if content_type.startswith("application/json"):
        try:
            json.loads(body)
        except json.JSONDecodeError as exc:
            return f"the body is not JSON: {exc}"
        except RecursionError:
            return "the body is not JSON this bot reads: nested too deep"
    return None
