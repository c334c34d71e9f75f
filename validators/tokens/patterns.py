"""Building the lexer's one alternation from patterns written with named groups."""

from __future__ import annotations

import re

_NAME = re.compile(r"\(\?P<\w+>")


def anon(pattern: str) -> str:
    """``pattern`` with its named groups made plain, so several forms that share group
    names (``hh``, ``mm``) can sit side by side in one alternation."""
    return _NAME.sub("(?:", pattern)
