"""Links in every form Slack renders: ``<url|label>``, Markdown ``[label](url)`` and bare.

A link opens its target, whatever its label shows, so its host is the target's: a label
``grafana.example.com`` over a target on another host is a link to that other host. A label
is still text people read: the URLs it shows are links of their own, and its prose is
checked like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
_TLDS = "com|net|org|io|co|dev|app|ai|xyz|info|biz|me|us|uk|de|ru|cn|link|site|online|top|gg|sh|tv|cc|so|to|ly|ws"
_URL_CHARS = r"[^\s<>|\"'`\[\]]"
"""What a bare URL may hold: it ends at a space, a quote, a Slack or Markdown bracket."""

_FORMS = re.compile(
    "|".join(
        (
            r"<(?P<slack>(?:[A-Za-z][A-Za-z0-9+.-]{0,31}:|//)[^\s<>|]+)(?:\|(?P<slack_label>[^<>]*))?>",
            r"\[(?P<md_label>[^\[\]\n]*)\]\(\s*<?(?P<md>[^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)>?\s*\)",
            rf"\b[A-Za-z][A-Za-z0-9+.-]{{0,31}}://{_URL_CHARS}+",
            rf"\bmailto:{_URL_CHARS}+",
            rf"(?<![\w:/])//{_HOST}{_URL_CHARS}*",
            rf"(?<![\w./@:-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?i:{_TLDS})\b(?![.-]?\w)",
            rf"(?<![\w./@-])(?i:www)\.{_URL_CHARS}+",
            rf"(?<![\w./@:-]){_HOST}(?::[0-9]+)?/{_URL_CHARS}*",
        )
    )
)
_TRAILING = ".,;:!?)"


@dataclass(frozen=True, slots=True)
class LinkMatch:
    """A link found in text: where it is, what it opens, and its label's place if it has one."""

    start: int
    end: int
    target: str
    label: tuple[int, int] | None


def find_links(text: str) -> list[LinkMatch]:
    """Every link, left to right; a labelled form is one link (its label is scanned again
    by the caller, as text)."""
    found = []
    for m in _FORMS.finditer(text):
        if m["slack"] is not None:
            label = m.span("slack_label") if m["slack_label"] is not None else None
            found.append(LinkMatch(m.start(), m.end(), m["slack"], label))
        elif m["md"] is not None:
            found.append(LinkMatch(m.start(), m.end(), m["md"], m.span("md_label")))
        else:
            url = m.group().rstrip(_TRAILING)
            found.append(LinkMatch(m.start(), m.start() + len(url), url, None))
    return found


def link_host(url: str) -> str:
    """The host a link would open, as a browser sees it (userinfo and port stripped)."""
    if url.lower().startswith("mailto:"):
        return url.rpartition("@")[2].split("?")[0].lower()
    target = url if "://" in url or url.startswith("//") else "//" + url
    try:
        return (urlsplit(target).hostname or "").lower()
    except ValueError:
        return ""
