"""Credentials out of everything sent to the LLM.

Alert annotations are written by whoever writes alert rules, and they quote logs: a
connection string with its password, a ``password=`` from a config dump, the bot's own
signing secret pasted into a runbook note. Those reached the prompt (issue 15). Two nets:

- the bot's own secrets, by value, wherever they appear (as written, URL-encoded or
  JSON-escaped): the Slack tokens and signing secret, the webhook token, the action
  webhook's secret, the OpenAI key, the PagerDuty secrets, and the passwords (or NATS
  tokens) in the database, NATS and action webhook URLs;
- credential shapes, whoever's they are: the validators' list (Slack, ``sk-``, AWS keys,
  PEM blocks, bearer tokens, GitHub tokens), plus ``password=…``-style pairs, a URL's
  ``user:password@`` and HTTP Basic credentials.

A value shorter than ``MIN_LITERAL`` characters is not looked for by value (it would
blank out ordinary words); the shapes still apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings
from validators.content import redact

MIN_LITERAL = 4
SECRET = "[REDACTED secret]"
_KEY = (
    r"(?:[a-z0-9]+[_.-])*(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?)"
)
_PAIR = re.compile(rf"\b({_KEY})([\"']?\s*[=:]\s*[\"']?)([^\s\"',;&<>]+)", re.IGNORECASE)
_SECRET_KEY = re.compile(_KEY, re.IGNORECASE)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:]*):([^\s/@]+)@")
_BASIC = re.compile(r"(?i)\bBasic\s+[A-Za-z0-9+/]{8,}={0,2}")


class Redactor:
    """``redactor(text)``: ``text`` with the bot's secrets and every credential shape replaced."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for value in secrets if len(value) >= MIN_LITERAL for form in _forms(value)}
        self._literals = sorted(forms, key=len, reverse=True)  # a longer form first: no half-redacted secret

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        values = [
            field.get_secret_value()
            for field in (
                settings.slack_bot_token,
                settings.slack_signing_secret,
                settings.slack_app_token,
                settings.openai_api_key,
                settings.webhook_token,
                settings.action_webhook_secret,
            )
            if isinstance(field, SecretStr)
        ]
        values += settings.pagerduty_secrets
        values += _url_secrets(settings.database_url, database=True)
        for url in (settings.nats_url, settings.action_webhook):
            if url:
                values += [secret for part in url.split(",") for secret in _url_secrets(part.strip())]
        return cls(values)

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, SECRET)
        text = redact(text)
        text = _PAIR.sub(lambda m: f"{m[1]}{m[2]}[REDACTED]", text)
        text = _USERINFO.sub(r"\1:[REDACTED]@", text)
        return _BASIC.sub("Basic [REDACTED]", text)


def names_a_secret(key: str) -> bool:
    """Whether a field name says its value is a credential (``password``, ``api_key``, …)."""
    return _SECRET_KEY.fullmatch(key) is not None


def _forms(value: str) -> set[str]:
    """How a secret may be written in text bound for the prompt."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def _url_secrets(url: str, *, database: bool = False) -> list[str]:
    """The password in a URL; a NATS-style token (``nats://TOKEN@host``) too."""
    try:
        if database:
            parsed = make_url(url)
            return [parsed.password] if isinstance(parsed.password, str) else []
        parts = urlsplit(url if "://" in url else f"nats://{url}")
    except (ArgumentError, ValueError):
        return []
    if parts.password:
        return [parts.password]
    return [parts.username] if parts.username and "@" in url else []
