"""The request bodies the server takes, described in its OpenAPI schema (``/openapi.json``).

The handlers read raw bodies (a PagerDuty signature is over the exact bytes, NDJSON is
streamed, errors name the line or field), so FastAPI cannot infer these; they are declared
here for readers, client generators and the schemathesis fuzz tests. Webhook payloads are
the alert senders' own pydantic models, listed from their registry (``bot.alerts.senders``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from bot.alerts.senders import SENDERS
from validators.events import KNOWN_KINDS

REF = "#/components/schemas/{model}"
SENDERS_DOC = "The sending tool; another name gets 404. " + "; ".join(
    f"`{s.name}`: {s.title} ({s.payload.__name__}), authenticated by {s.auth}, its lane from {s.lane}" for s in SENDERS.values()
)

EVENT = {
    "type": "object",
    "description": "One settlement event (contract §1); the kind's own fields beside these.",
    "required": ["event_id", "ts", "lane", "seq", "kind"],
    "properties": {
        "event_id": {"type": "string"},
        "ts": {"type": "string", "format": "date-time"},
        "lane": {"type": "string"},
        "seq": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "enum": sorted(KNOWN_KINDS)},
    },
    "additionalProperties": True,
}

EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {
                "schema": {"type": "array", "items": EVENT, "description": "One event per line (NDJSON), not a JSON array."}
            }
        },
    }
}

WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="WebhookPayload")}}},
    }
}

SLACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                "description": "A slash command or an interaction (payload=...), signed by Slack.",
            },
            "application/json": {"schema": {"type": "object"}, "description": "An Events API callback, signed by Slack."},
        },
    }
}


def install(app: FastAPI) -> None:
    """Build the schema once, with the webhook payload models in its components."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            models = [s.payload for s in SENDERS.values()]
            _, payloads = models_json_schema([(m, "validation") for m in models], ref_template=REF)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(payloads.get("$defs", {}))
            components["WebhookPayload"] = {"anyOf": [{"$ref": REF.format(model=m.__name__)} for m in models]}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
