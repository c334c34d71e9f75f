"""One chat completion through the official ``openai`` client, any compatible server.

Transport failures (timeouts, connection errors, 429, 5xx, and a body that is no chat
completion at all, as a proxy's HTML error page answered with 200) are retried by tenacity with
jittered exponential backoff, honouring a 429's Retry-After, all under one deadline; the
client's own retries are off so there is one policy. What the model answers is never
retried here: a refusal and a cut-off answer are typed outcomes for the caller (the reask
loop), and a bug (a ``TypeError``) is not a reason to try again.

Structured output: ``response_format`` json_schema (strict) first; a server that refuses
it (400) gets ``json_object`` from then on, and the validators check the schema anyway.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import openai
from openai import OpenAI
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_random_exponential

from bot.summarize.prompt import Message

log = logging.getLogger(__name__)
Outcome = Literal["answered", "refused", "truncated", "unavailable"]


class NotACompletion(Exception):
    """The server answered 2xx with something that is not a chat completion (an HTML page,
    JSON of another shape, no choices): what a broken proxy or gateway does; transient."""


_TRANSIENT = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    NotACompletion,
)
_NOT_IN_STRICT = frozenset({"$schema", "$id", "title", "minLength", "maxLength", "pattern", "minItems", "uniqueItems"})
_backoff = wait_random_exponential(multiplier=0.5, max=8)


@dataclass(frozen=True, slots=True)
class Completion:
    outcome: Outcome
    text: str | None
    model: str
    latency_ms: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The proposal schema in the subset strict structured output accepts (the full schema
    is still checked by the validators): no length or pattern keywords, ``const`` as an enum."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: clean(v) for k, v in node.items() if k not in _NOT_IN_STRICT}
            if "const" in out:
                out["enum"] = [out.pop("const")]
            return out
        if isinstance(node, list):
            return [clean(item) for item in node]
        return node

    return clean(copy.deepcopy(schema))  # type: ignore[no-any-return]


def _wait(state: RetryCallState) -> float:
    """Retry-After when a 429 says it (capped), else jittered exponential backoff."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, openai.RateLimitError):
        after = error.response.headers.get("retry-after")
        if after is not None:
            try:
                return min(float(after), 30.0)
            except ValueError:
                pass
    return _backoff(state)


class LlmClient:
    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        model: str,
        schema: dict[str, Any],
        *,
        deadline: timedelta,
        attempt_timeout: float = 60.0,
    ) -> None:
        self.model = model
        self.deadline = deadline.total_seconds()
        self.attempt_timeout = attempt_timeout
        self._client = OpenAI(api_key=api_key, base_url=base_url, max_retries=0)
        self._strict: dict[str, Any] | None = {
            "type": "json_schema",
            "json_schema": {"name": "summary_proposal", "strict": True, "schema": strict_schema(schema)},
        }

    def complete(self, messages: list[Message]) -> Completion:
        started = time.monotonic()
        retrying = Retrying(
            retry=retry_if_exception_type(_TRANSIENT),
            wait=_wait,
            stop=stop_after_delay(self.deadline),
            reraise=True,
        )
        try:
            response = retrying(self._create, messages, started)
        except _TRANSIENT as exc:
            return self._done("unavailable", None, started, error=_describe(exc))
        except openai.APIStatusError as exc:  # 4xx other than 429: retrying cannot help
            return self._done("unavailable", None, started, error=_describe(exc))
        choice = response.choices[0]
        usage = response.usage
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (None, None)
        if choice.message.refusal:
            return self._done("refused", choice.message.refusal, started, prompt_tokens=tokens[0], completion_tokens=tokens[1])
        if choice.finish_reason == "length":
            return self._done("truncated", choice.message.content, started, prompt_tokens=tokens[0], completion_tokens=tokens[1])
        return self._done("answered", choice.message.content or "", started, prompt_tokens=tokens[0], completion_tokens=tokens[1])

    def _create(self, messages: list[Message], started: float) -> Any:
        remaining = self.deadline - (time.monotonic() - started)
        timeout = max(1.0, min(self.attempt_timeout, remaining))
        try:
            response = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                response_format=self._strict or {"type": "json_object"},
                temperature=0,
                timeout=timeout,
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NotACompletion(f"the answer is not JSON ({exc})") from exc
        except openai.BadRequestError as exc:
            if self._strict is None or "response_format" not in str(exc):
                raise
            log.warning("server refuses strict json_schema output; using json_object: %s", _describe(exc))
            self._strict = None
            return self._create(messages, started)
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            raise NotACompletion(f"the answer has no choices: {str(response)[:120]}")
        return response

    def close(self) -> None:
        self._client.close()

    def _done(
        self,
        outcome: Outcome,
        text: str | None,
        started: float,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        error: str | None = None,
    ) -> Completion:
        latency = int((time.monotonic() - started) * 1000)
        return Completion(outcome, text, self.model, latency, prompt_tokens, completion_tokens, error)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {str(exc)[:200]}"
