"""Versioned prompt material shipped as data files: the proposal JSON Schema and the prompt
templates. Each loader returns the content with its SHA-256, so every LLM call can record
exactly which version it used. Bump ``PROMPT_VERSION`` whenever a template's meaning changes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "proposal.schema.json"
PROMPT_VERSION = "summary-v1"
TEMPLATE_FILES = ("system.md", "user.md", "reask.md")
NARRATIVE_FILE = "narrative.md"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    text: str
    sha256: str


def load_asset(name: str) -> Asset:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return Asset(name, text, hashlib.sha256(text.encode()).hexdigest())


@cache
def proposal_schema() -> dict[str, Any]:
    """The summary proposal's JSON Schema (contract §4)."""
    schema: dict[str, Any] = json.loads(load_asset(SCHEMA_FILE).text)
    return schema


@dataclass(frozen=True, slots=True)
class Templates:
    """The summary prompt's templates (``string.Template`` syntax) and one hash over them all."""

    version: str
    sha256: str
    system: str
    user: str
    reask: str


@cache
def summary_templates() -> Templates:
    assets = [load_asset(name) for name in TEMPLATE_FILES]
    digest = hashlib.sha256("".join(a.sha256 for a in assets).encode()).hexdigest()
    system, user, reask = (a.text for a in assets)
    return Templates(PROMPT_VERSION, digest, system, user, reask)


@cache
def narrative_template() -> Asset:
    """What a postmortem's narrative is asked for, after the summary prompt."""
    return load_asset(NARRATIVE_FILE)
