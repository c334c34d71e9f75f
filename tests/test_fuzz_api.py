"""schemathesis against the server's own OpenAPI schema: whatever a client sends to any
endpoint, in or out of the schema, the server answers without a 5xx and without hanging.
Runs in process on the real app (its SQLite store, live status, ingestion, Slack app)."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from stores import running, sqlite_url

from bot.http.app import create_app
from bot.runtime import Bot

HANG_S = 30.0  # a hang (a runaway regex, a lock never released), not a slow answer on a busy machine
EXAMPLES = 60


@schemathesis.serializer("application/x-ndjson")
def ndjson(_: schemathesis.SerializationContext, value: object) -> bytes:
    """A generated list of events goes out one JSON object a line, as senders write them."""
    rows = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    started = running(
        sqlite_url(folder), slack_bot_token="xoxb-fuzz-token-0000", slack_signing_secret="fuzz-secret", channel="C0FUZZ",
        slack_api_url="http://127.0.0.1:9/api/", max_body_bytes=1 << 20, max_webhook_bytes=1 << 20,
    )  # fmt: skip
    yield started
    started.close()


@pytest.fixture(scope="module")
def api(bot: Bot) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(bot, background=False))


def operations(api: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api.get_all_operations()]


def test_the_schema_lists_every_endpoint(api: schemathesis.BaseSchema) -> None:
    found = {(op.method.upper(), op.path) for op in operations(api)}
    assert found >= {
        ("POST", "/events"), ("POST", "/webhooks/{sender}"), ("POST", "/slack/events"), ("GET", "/healthz"), ("GET", "/metrics"),
        ("GET", "/lanes"), ("GET", "/lanes/{lane}"), ("GET", "/incidents"), ("GET", "/incidents/{incident_id}"),
    }  # fmt: skip


def test_no_request_makes_the_server_fail_or_hang(api: schemathesis.BaseSchema) -> None:
    seen: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for operation, mode in itertools.product(operations(api), schemathesis.GenerationMode):
        if mode is schemathesis.GenerationMode.NEGATIVE and not (operation.path_parameters or operation.query or operation.body):
            continue  # nothing in the request to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))  # in the schema, and deliberately out of it
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_5xx_no_hang(case: schemathesis.Case) -> None:
            response = case.call()
            seen[f"{case.method} {case.path}"][response.status_code] += 1
            case.validate_response(response, checks=[not_a_server_error])  # raises on a 5xx, naming the request
            assert response.elapsed < HANG_S, f"{case.method} {case.path} took {response.elapsed:.1f} s"

        try:
            no_5xx_no_hang()
        except Unsatisfiable:  # schemathesis found no way to break this request's schema
            assert mode is schemathesis.GenerationMode.NEGATIVE
    print(json.dumps(seen))
    reached = {op: codes for op, codes in seen.items() if any(code < 300 for code in codes)}
    assert {"POST /events", "POST /webhooks/{sender}", "GET /lanes", "GET /incidents"} <= set(reached), seen
