"""Loopback servers that speak the real wire formats: an OpenAI-compatible
``/v1/chat/completions`` and the Slack Web API. The real ``openai`` and ``slack_sdk``
clients talk to them over HTTP; each records what it was sent and answers from a script.
"""

from __future__ import annotations

import hashlib
import hmac
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
from urllib.parse import parse_qsl, urlencode


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
    stored: bool = False
    """Slack only: the message was stored before this (failure) answer."""


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
    """The Slack Web API: records every call and keeps the channel's history.

    ``failures[method]`` lists answers to give before succeeding (e.g. ``Reply(status=429,
    headers={"Retry-After": "1"})``; ``failures["upload"]`` for the bytes sent to an upload
    URL); one with ``stored=True`` is given after the message was stored, as when Slack fails
    after posting. ``fail_for`` answers every call from a cycle
    of failures for a while (an outage); ``slow[method]`` records the call, then answers
    that many seconds later (a process killed while it waits never learns the answer)."""

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.uploads: dict[str, bytes] = {}
        self.failures: dict[str, list[Reply]] = {}
        self.slow: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []  # every message in the channel, oldest first
        self.groups: dict[str, list[str]] = {}  # user groups (usergroups.users.list): id -> members
        self.refused = 0  # calls answered with a failure
        self.ghosts = 0  # of those, posts stored before the failure answer
        self._outage: tuple[float, tuple[Reply, ...], dict[str, Iterator[Reply]]] | None = None
        self._base = int(time.time())  # ts are epoch seconds, as Slack's are (history's oldest= compares them)
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(self._handle)
        self.url = self._server.url + "/api/"

    def fail_for(self, seconds: float, *replies: Reply) -> None:
        """Every call fails for ``seconds`` from now, each method answered from ``replies``
        in turn."""
        with self._lock:
            self._outage = (time.monotonic() + seconds, replies, {})

    def _failure(self, method: str) -> Reply | None:
        if self._outage is not None:
            until, replies, turns = self._outage
            if time.monotonic() < until:
                return next(turns.setdefault(method, itertools.cycle(replies)))
            self._outage = None
        pending = self.failures.get(method)
        return pending.pop(0) if pending else None

    def _handle(self, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        method = path.rsplit("/", 1)[-1]
        if path.startswith("/upload/"):  # the upload URL files.getUploadURLExternal handed out
            with self._lock:
                failure = self._failure("upload")
                if failure is not None:
                    return failure
                self.uploads[method] = body
            return Reply(body=b"OK - uploaded")
        if headers.get("content-type", "").startswith("application/json"):
            args = json.loads(body or b"{}")
        else:
            args = dict(parse_qsl(body.decode()))
            for key in ("blocks", "metadata"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        with self._lock:
            failure = self._failure(method)
            if failure is not None and not failure.stored:
                self.refused += 1
                return failure
            self.calls.append(SlackCall(method, args, time.monotonic()))
            ts = f"{self._base}.{next(self._ts):06d}"
            body_out = self._answer(method, args, ts)
            if failure is not None:
                self.refused += 1
                self.ghosts += method == "chat.postMessage"
                return failure
        return Reply(body=body_out, delay=self.slow.get(method, 0.0))

    def _answer(self, method: str, args: dict[str, Any], ts: str) -> dict[str, Any]:
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method in ("conversations.history", "conversations.replies"):
            # history: the channel's top-level messages; replies: one thread's, its parent first
            oldest = float(args.get("oldest") or 0)
            with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
            thread = args.get("ts") if method == "conversations.replies" else None
            found = [
                {k: v for k, v in m.items() if k != "metadata" or with_metadata}
                for m in (self.history if thread else reversed(self.history))
                if float(m["ts"]) >= oldest and (m.get("thread_ts") == thread or (thread and m["ts"] == thread))
            ]
            return {"ok": True, "messages": found, "has_more": False}
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T0LANE",
                "user": "lanekeeper",
                "url": "https://x.slack.com/",
            }
        if method == "usergroups.users.list":
            members = self.groups.get(str(args.get("usergroup")))
            return {"ok": True, "users": members} if members is not None else {"ok": False, "error": "no_such_subteam"}
        if method == "apps.connections.open":  # Socket Mode: a websocket nobody listens on
            return {"ok": True, "url": "ws://127.0.0.1:9/link"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.uploads) + len(self.calls):06d}"
            return {"ok": True, "upload_url": self.url.removesuffix("/api/") + f"/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in json.loads(args["files"])]}
        channel = str(args.get("channel", ""))
        channel = channel if channel.startswith("C") else "C0INCIDENT"  # names resolve to an id
        if method == "chat.postMessage":
            message = {"type": "message", "ts": ts, "text": args.get("text"), "metadata": args.get("metadata")}
            thread = args.get("thread_ts")
            self.history.append(message | ({"thread_ts": thread} if thread else {}))
        return {"ok": True, "channel": channel, "ts": ts}

    def owners(self) -> list[tuple[str, str]]:
        """(incident, purpose) of each message in the channel, oldest first, by its metadata."""
        return [(m["metadata"]["event_payload"]["incident_id"], m["metadata"]["event_payload"]["purpose"]) for m in self.history]

    def posts(self, purpose: str | None = None) -> list[SlackCall]:
        """chat.postMessage calls, of one purpose (by their metadata) when given."""
        return [
            c
            for c in self.of("chat.postMessage")
            if purpose is None or (c.args.get("metadata") or {}).get("event_payload", {}).get("purpose") == purpose
        ]

    def of(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def everything(self) -> str:
        return json.dumps([c.args for c in self.calls], ensure_ascii=False)


def signed(body: str, secret: str, *, age: int = 0) -> dict[str, str]:
    """The headers Slack signs a request with (v0: HMAC-SHA256 of ``v0:timestamp:body``)."""
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": f"v0={digest}",
    }


def slash_command(
    command: str, text: str = "", *, user: str, channel: str = "C0INCIDENT", name: str = "incidents", response_url: str
) -> str:
    """A slash command's form body, as Slack posts it."""
    form = {
        "token": "legacy",
        "team_id": "T0LANE",
        "channel_id": channel,
        "channel_name": name,
        "user_id": user,
        "command": command,
        "text": text,
        "response_url": response_url,
        "trigger_id": trigger_id(),
    }
    return urlencode(form)


def button_click(action_id: str, value: str, *, user: str, channel: str, response_url: str, reason: str | None = None) -> str:
    """A block_actions payload's form body, as Slack posts a button click (with the reason
    typed in the message's input block)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LANE"},
        "user": {"id": user},
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": "1700000000.000002"},
        "trigger_id": trigger_id(),
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": f"action:{value}", "value": value}],
        "state": {"values": {f"reason:{value}": {"lk_reason": {"type": "plain_text_input", "value": reason}}}},
    }
    return urlencode({"payload": json.dumps(payload)})


_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    """Unique per request, as Slack's are (two otherwise equal requests are not a replay)."""
    return f"{time.time():.0f}.{next(_TRIGGERS)}.abcdef"


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


def rollback_proposal(request: dict[str, Any]) -> Reply:
    """An honest proposal that also suggests rolling back its first lane (the failure rate
    of the test incidents is above the policy's 2% trigger)."""
    lane = read_prompt(request)["lanes"][0]
    evidence = read_prompt(request)["facts"][lane]["failed"]["evidence"][:1]
    action = {"kind": "rollback", "lane": lane, "reason": "failure rate 25.00% is above the 2% trigger", "evidence": evidence}
    return answer(honest_proposal(request, actions=[action]))


def honest_after(delay: float) -> Callable[[dict[str, Any]], Reply]:
    """A model that answers honestly, ``delay`` seconds after it is asked."""

    def respond(request: dict[str, Any]) -> Reply:
        reply = answer(honest_proposal(request))
        reply.delay = delay
        return reply

    return respond


def answer(doc: dict[str, Any]) -> Reply:
    return Reply(content=json.dumps(doc))
