"""A recorded LLM: an OpenAI-compatible ``/v1/chat/completions`` on loopback that answers
with a recording, in order. ``make demo`` and replays use it so that the whole pipeline —
the real openai client, the validators, the re-ask — runs with no key and no network.

A recording is JSON: ``{"model": "...", "answers": [{"content": "...", "finish_reason": "stop"}, ...]}``.
Past its last answer the server says 503, and the summary is withheld as unavailable.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class RecordedLlm:
    def __init__(self, recording: Path) -> None:
        doc = json.loads(recording.read_text(encoding="utf-8"))
        self.model: str = doc["model"]
        self._answers: list[dict[str, Any]] = list(doc["answers"])
        self._lock = threading.Lock()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                status, body = server._next()
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _next(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            if not self._answers:
                return 503, {"error": {"message": "the recording has no more answers", "type": "server_error"}}
            answer = self._answers.pop(0)
        message = {"role": "assistant", "content": answer.get("content"), "refusal": answer.get("refusal")}
        choice = {"index": 0, "message": message, "finish_reason": answer.get("finish_reason", "stop")}
        usage = {
            "prompt_tokens": answer.get("prompt_tokens", 0),
            "completion_tokens": answer.get("completion_tokens", 0),
            "total_tokens": 0,
        }
        return 200, {
            "id": "chatcmpl-recorded",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [choice],
            "usage": usage,
        }

    def settings(self) -> dict[str, Any]:
        """The bot's LLM settings pointing at this server."""
        return {"openai_api_key": "recorded", "openai_base_url": self.url, "model": self.model, "llm_reasks": 2}

    def __enter__(self) -> RecordedLlm:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
