"""docs/slack.md, manifest.yml and the app say the same: a Slack admin creates the app from
the manifest and reads the docs; the bot answers what both name."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.chatops.commands import SUGGESTING

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "slack.md").read_text()
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
ANSWERED = {"/lane", "/incident", "/tabletop", "/settlement", *SUGGESTING}
"""The commands bot/slack/app.py registers."""


def _section(title: str) -> str:
    return DOCS.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_manifest_declares_exactly_the_commands_the_app_answers_and_the_docs_list() -> None:
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    documented = set(re.findall(r"^\| `(/[a-z]+)", _section("Slash commands"), re.MULTILINE))
    documented |= set(re.findall(r"· `(/[a-z]+) ", _section("Slash commands")))
    assert declared == ANSWERED
    assert documented == declared
    assert set(re.findall(r"`(/[a-z]+)`", _section("Creating the app"))) == declared


def test_the_manifest_asks_for_exactly_the_scopes_the_docs_explain() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    named = _section("Creating the app").split("the scopes:", 1)[1].split(".", 1)[0]
    assert set(re.findall(r"`([a-z_:]+)`", named)) == scopes
