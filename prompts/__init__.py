"""Versioned prompt material shipped as data files: the proposal JSON Schema (and, later,
the prompt templates). Each loader returns the content with its SHA-256, so every LLM
call can record exactly which version it used."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "proposal.schema.json"


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
