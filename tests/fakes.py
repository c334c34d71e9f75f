"""Loopback servers that speak the real wire formats: an OpenAI-compatible
``/v1/chat/completions`` and the Slack Web API. The real ``openai`` and ``slack_sdk``
clients talk to them over HTTP; each records what it was sent and answers from a script.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Reply:
    """One HTTP answer: a chat completion (``content``) or a raw status/body."""

    content: str | None = None
    finish_reason: str = "stop"
    refusal: str | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Server:
    def __init__(self, handle: Callable[[str, bytes, dict[str, str]], Reply]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                reply = handle(self.path, body, {k.lower(): v for k, v in self.headers.items()})
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out first
                    pass

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # a short poll: shutdown() waits for it, and every test stops two of these
        self._thread = threading.Thread(target=outer.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeOpenAI:
    """Answers from ``script`` in order, then from ``responder`` (given the request)."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.script: list[Reply] = []
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        self._server = _Server(self._handle)
        self.url = self._server.url + "/v1"

    def _handle(self, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        request = json.loads(body)
        with self._lock:
            self.requests.append(request)
            self.times.append(time.monotonic())
            reply = self.script.pop(0) if self.script else None
        if reply is None:
            reply = self.responder(request) if self.responder else Reply(status=500, body={"error": {"message": "no reply"}})
        if reply.body is None:
            reply.body = _completion(request, reply)
        return reply

    def prompts(self) -> str:
        """Everything ever sent to the model, for leak checks."""
        return json.dumps(self.requests)


def _completion(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": len(json.dumps(request)) // 4,
            "completion_tokens": len(reply.content or "") // 4,
            "total_tokens": 0,
        },
    }


def error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "server_error"}}, headers=headers)


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    at: float


class FakeSlack:
    """The Slack Web API: records every call; ``failures[method]`` lists answers to give
    before succeeding (e.g. ``Reply(status=429, headers={"Retry-After": "1"})``)."""

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.uploads: dict[str, bytes] = {}
        self.failures: dict[str, list[Reply]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(self._handle)
        self.url = self._server.url + "/api/"

    def _handle(self, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        method = path.rsplit("/", 1)[-1]
        if path.startswith("/upload/"):  # the upload URL files.getUploadURLExternal handed out
            with self._lock:
                self.uploads[method] = body
            return Reply(body=b"OK - uploaded")
        if headers.get("content-type", "").startswith("application/json"):
            args = json.loads(body or b"{}")
        else:
            args = dict(parse_qsl(body.decode()))
            if isinstance(args.get("blocks"), str):
                args["blocks"] = json.loads(args["blocks"])
        with self._lock:
            pending = self.failures.get(method)
            if pending:
                return pending.pop(0)
            self.calls.append(SlackCall(method, args, time.monotonic()))
            ts = f"1700000000.{next(self._ts):06d}"
        return Reply(body=self._answer(method, args, ts))

    def _answer(self, method: str, args: dict[str, Any], ts: str) -> dict[str, Any]:
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T0LANE",
                "user": "lanekeeper",
                "url": "https://x.slack.com/",
            }
        if method == "apps.connections.open":  # Socket Mode: a websocket nobody listens on
            return {"ok": True, "url": "ws://127.0.0.1:9/link"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.uploads) + len(self.calls):06d}"
            return {"ok": True, "upload_url": self.url.removesuffix("/api/") + f"/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in json.loads(args["files"])]}
        channel = str(args.get("channel", ""))
        return {"ok": True, "channel": channel if channel.startswith("C") else "C0INCIDENT", "ts": ts}  # names resolve to an id

    def of(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def everything(self) -> str:
        return json.dumps([c.args for c in self.calls], ensure_ascii=False)


@contextmanager
def running(fake: FakeOpenAI | FakeSlack) -> Iterator[Any]:
    fake._server.start()
    try:
        yield fake
    finally:
        fake._server.stop()


# --- a model that reads the prompt -----------------------------------------------------------

_INCIDENT = re.compile(r"^Incident (\S+) on lanes (.+)\.$", re.MULTILINE)
_WINDOW = re.compile(r"window (\S+) to (\S+)\):\n(.+)$", re.MULTILINE)
_SEVERITY = re.compile(r"^Severity computed by the policy: (\S+)$", re.MULTILINE)


def read_prompt(request: dict[str, Any]) -> dict[str, Any]:
    """What a model would take from the first user message: ids, window, facts, severity."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    incident = _INCIDENT.search(user)
    window = _WINDOW.search(user)
    severity = _SEVERITY.search(user)
    assert incident
    assert window
    assert severity, user[:500]
    return {
        "incident_id": incident.group(1),
        "lanes": incident.group(2).split(", "),
        "window": {"start": window.group(1), "end": window.group(2)},
        "facts": json.loads(window.group(3)),
        "severity": severity.group(1),
    }


def honest_proposal(request: dict[str, Any], *, failed: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A proposal grounded in the prompt's facts sheet (``failed`` replaces the true count:
    a hallucinated figure)."""
    seen = read_prompt(request)
    lane = seen["lanes"][0]
    fact = seen["facts"][lane]["failed"]
    count = fact["value"] if failed is None else failed
    doc = {
        "schema_version": 1,
        "incident_id": seen["incident_id"],
        "headline": f"{lane} settlement failures: {count} failed",
        "severity": seen["severity"],
        "status": "investigating",
        "lanes": seen["lanes"],
        "window": seen["window"],
        "claims": [
            {
                "text": f"{count} settlements failed on {lane}",
                "lane": lane,
                "fact": "failed",
                "value": count,
                "evidence": fact.get("evidence", [])[:2],
            }
        ],
        "actions": [],
    }
    doc.update(overrides)
    return doc


def answer(doc: dict[str, Any]) -> Reply:
    return Reply(content=json.dumps(doc))
