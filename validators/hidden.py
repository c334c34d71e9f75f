"""Contract §5 ``content.hidden``: a text holding a Unicode format or control character
other than newline and tab.

What the validator reads must be what a person sees. A right-to-left override around a
figure (``\u202e25\u202c``) passed grounding as 25 and showed in Slack as 52; zero-width
characters split a mention or a token so it reads as something else. No summary needs
them, so a text holding one is refused whole, naming the character and where it is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from validators.findings import Code, Violation, pointer
from validators.proposal import ProposalView

_ALLOWED = frozenset("\n\t")
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cc"})


def hidden_characters(text: str) -> list[tuple[int, str]]:
    """``(position, character)`` of every format or control character but newline and tab."""
    return [(i, ch) for i, ch in enumerate(text) if ch not in _ALLOWED and unicodedata.category(ch) in _HIDDEN_CATEGORIES]


def check_hidden(view: ProposalView) -> Iterator[Violation]:
    for where, text in view.texts():
        found = hidden_characters(text)
        if not found:
            continue
        position, char = found[0]
        code = f"U+{ord(char):04X}"
        name = unicodedata.name(char, "a control character")
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        yield Violation(
            Code.CONTENT_HIDDEN,
            pointer(*where),
            f"{code} {name} at character {position}{more}: a format or control character, so what is "
            "checked is not what people see; write the text without it",
            {"char": code, "position": position},
        )
