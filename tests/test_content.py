"""Mentions, credentials and links: found for validation, credentials redacted for prompts."""

from __future__ import annotations

import pytest

from validators.content import find_mentions, find_secrets, redact
from validators.tokens import Link, tokenize


@pytest.mark.parametrize(
    "text",
    [
        "<!channel>",
        "<!here|here>",
        "<!everyone>",
        "@channel",
        "@Here now",
        "<@U01ONCALL>",
        "<!subteam^S0123|oncall>",
        "ask @oncall-team",
    ],
)
def test_mentions_are_found(text: str) -> None:
    assert find_mentions(text)


@pytest.mark.parametrize("text", ["mail ops@example.com", "l2-arb at 14:05", "x @ y"])
def test_non_mentions_are_not(text: str) -> None:
    assert find_mentions(text) == []


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-123456789012-abcdef123456",
        "xapp-1-A0123-abcdef123456",
        "sk-proj-abcdefghijklmnop1234",
        "AKIAABCDEFGHIJKLMNOP",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        "Bearer abcdefghijklmnopqrstuvwx",
        "ghp_" + "a" * 36,
    ],
)
def test_credentials_are_found_and_redacted(secret: str) -> None:
    text = f"token: {secret} end"
    assert find_secrets(text)
    cleaned = redact(text)
    assert secret not in cleaned
    assert cleaned.startswith("token: [REDACTED")
    assert cleaned.endswith(" end")


def test_ordinary_words_are_not_credentials() -> None:
    assert find_secrets("risk-free task-based sk-1 AKIA") == []


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("see https://grafana.example.com/d/1", []),
        ("see <https://evil.test/x|grafana.example.com>", ["evil.test"]),
        ("see https://grafana.example.com@evil.test/", ["evil.test"]),
        ("see www.evil.test/login", ["www.evil.test"]),
        ("see evil.test/login", ["evil.test"]),
        ("see HTTPS://RUNBOOKS.EXAMPLE.COM/r/1.", []),
        ("settlement.failed events", []),
    ],
)
def test_links_to_hosts_not_allowed_are_found(text: str, hosts: list[str]) -> None:
    allowed = {"grafana.example.com", "runbooks.example.com"}
    assert [t.host for t in tokenize(text) if isinstance(t, Link) and t.host not in allowed] == hosts
