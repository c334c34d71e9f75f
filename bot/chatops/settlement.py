"""``/settlement ID``: one settlement's trace in Slack, for whoever is answering a dispute.

Ephemeral, like every lookup: the summary, the steps as a fixed-width table, and each flag.
The export a counterparty can check is the CLI's (``lanekeeper settlement ID --export``): a
file is not something to drop into an incident channel.
"""

from __future__ import annotations

from bot.settlements import SettlementError, flag_lines, load, summary, table
from bot.slack.blocks import Message, context_block, cut, escape, plain, section
from bot.store.events import EventStore

SETTLEMENT_USAGE = "`/settlement ID` — one settlement's events in order, with what is missing or inconsistent"
_EXPORT_HINT = "For a counterparty: `lanekeeper settlement ID --export FILE.ndjson` writes the stored lines and their SHA-256."


def settlement(events: EventStore, words: list[str]) -> Message:
    if len(words) != 1 or words[0] == "help":
        problem = "" if words == ["help"] else "`/settlement` needs exactly one settlement id.\n"
        return plain(problem + SETTLEMENT_USAGE)
    try:
        stored = load(events, words[0])
    except SettlementError as exc:
        reason = escape(str(exc))  # it quotes what was typed
        return plain(reason[:1].upper() + reason[1:] + ".")
    trace = stored.trace
    rows = cut(escape("\n".join(table(trace))), 2900)  # a section holds 3,000 characters, fences included
    flags = "\n".join(f"• {escape(line.removeprefix('! '))}" for line in flag_lines(trace))
    blocks = [
        section(f"*{escape(summary(trace))}*"),
        section(f"```{rows}```"),
        section(flags),
        context_block(_EXPORT_HINT),
    ]
    return Message(escape(summary(trace)), blocks)
