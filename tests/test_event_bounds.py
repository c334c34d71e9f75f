"""Contract v1.1 §1 bounds: a line out of them is rejected with its number and reason, the
valid lines beside it kept, however the input is chunked — and the parser itself never
raises, holds a long line whole or keeps a reason per bad line."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import chunks
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.ndjson import DEPTH_MAX, KEPT, LINE_MAX, EventStream, parse_events

BASE: dict[str, Any] = {"event_id": "x", "ts": "2026-03-02T14:05:07Z", "lane": "l2-arb", "seq": 1, "kind": "queue.depth"} | {
    "value": 3
}
BLOCK = {"chain": "arb", "number": 7, "ts": "2026-03-02T14:05:07Z", "hash": "0x01"}
KINDS: dict[str, dict[str, Any]] = {
    "settlement.submitted": {"settlement_id": "s1", "asset": "ETH", "amount": "1.5", "notional_usd": 10.0},
    "settlement.confirmed": {"settlement_id": "s1", "block": BLOCK},
    "batch.posted": {"batch_id": "b1", "block": BLOCK},
    "feed.price": {"symbol": "ETH-USD", "source": "lane", "price": 3000.0},
    "canary.result": {"ok": True, "latency_us": 5},
    "lane.reorg": {"depth": 1},
}


def line(kind: str = "queue.depth", raw: str | None = None, **over: Any) -> str:
    """One event line; ``raw`` is spliced in as JSON text before the closing brace."""
    doc = {**BASE, "kind": kind, **KINDS.get(kind, {}), **over}
    if kind != "queue.depth":
        doc.pop("value", None)
    text = json.dumps(doc)
    return text if raw is None else text[:-1] + ", " + raw + "}"


def nested(depth: int) -> str:
    """A value whose innermost array is ``depth`` levels deep counting the event's own object."""
    return '"x": ' + "[" * (depth - 1) + "]" * (depth - 1)


def outcome(bad: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The line between two valid ones: what is kept, and what is rejected."""
    body = "\n".join([line(event_id="before"), bad, line(event_id="after")]) + "\n"
    events, stats = parse_events([body.encode()])
    return [e.event_id for e in events], [(r.line, r.reason) for r in stats.rejected]


ACCEPTED = {
    "ts at the first instant of 2000": line(ts="2000-01-01T00:00:00Z"),
    "ts at the last microsecond of 2100": line(ts="2100-12-31T23:59:59.999999Z"),
    "a block ts in 2100": line("settlement.confirmed", block={**BLOCK, "ts": "2100-12-31T23:00:00Z"}),
    "notional_usd 0": line("settlement.submitted", notional_usd=0),
    "notional_usd just below 1e15": line("settlement.submitted", notional_usd=999_999_999_999_999.9),
    "price 0 (a broken feed reading zero is news)": line("feed.price", price=0),
    "seq 2^63 - 1": line(seq=2**63 - 1),
    "value 2^63 - 1": line(value=2**63 - 1),
    "block number 2^63 - 1": line("batch.posted", block={**BLOCK, "number": 2**63 - 1}),
    "lane of 200 characters": line(lane="l" * 200),
    "event_id of 200 characters": line(event_id="e" * 200),
    "settlement_id of 200 characters": line("settlement.submitted", settlement_id="s" * 200),
    "an unknown kind of 64 characters": line("k" * 64),
    "an escaped backslash before u0000 (no NUL)": line(lane="l2\\u0000arb"),
    f"nesting {DEPTH_MAX} deep": line(raw=nested(DEPTH_MAX)),
    "brackets inside strings do not nest": line(raw='"x": "' + "[{" * 100 + '"'),
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_values_at_the_bounds_are_accepted(text: str) -> None:
    kept, rejected = outcome(text)
    assert rejected == []
    assert len(kept) == 3


REJECTED = {
    "ts in 1999": (line(ts="1999-12-31T23:59:59.999999Z"), "$.ts: 1999-12-31T23:59:59.999999Z is outside years 2000 to 2100"),
    "ts in 2101": (line(ts="2101-01-01T00:00:00Z"), "outside years 2000 to 2100"),
    "ts 0001-01-01": (line(ts="0001-01-01T00:00:00Z"), "$.ts: 0001-01-01"),
    "ts 9999-12-31": (line(ts="9999-12-31T23:59:59Z"), "$.ts: 9999-12-31"),
    "a block ts in 1970": (line("settlement.confirmed", block={**BLOCK, "ts": "1970-01-01T00:00:00Z"}), "$.block.ts"),
    "a block ts in 2101 by its offset": (
        line("batch.posted", block={**BLOCK, "ts": "2100-12-31T23:30:00-01:00"}),
        "$.block.ts",
    ),
    "an unknown kind with a ts in 9999": (line("lane.heartbeat", ts="9999-01-01T00:00:00Z"), "lane.heartbeat: $.ts"),
    "an unknown kind with a ts not in UTC": (line("lane.heartbeat", ts="2026-03-02T14:05:07+01:00"), "UTC"),
    "notional_usd 1e15": (line("settlement.submitted", notional_usd=1e15), "$.notional_usd"),
    "notional_usd 1.7e308": (line("settlement.submitted", notional_usd=1.7e308), "$.notional_usd"),
    "notional_usd 1e400": (line("settlement.submitted", raw='"notional_usd": 1e400'), "notional_usd"),
    "notional_usd negative": (line("settlement.submitted", notional_usd=-0.01), "$.notional_usd"),
    "price 1e15": (line("feed.price", price=1e15), "$.price"),
    "NaN": (line("feed.price", raw='"price": NaN'), "invalid JSON"),
    "Infinity": (line("feed.price", raw='"price": Infinity'), "invalid JSON"),
    "seq 2^63": (line(seq=2**63), "$.seq"),
    "seq negative": (line(seq=-1), "$.seq"),
    "value 2^63": (line(value=2**63), "$.value"),
    "latency_us 2^64": (line("canary.result", latency_us=2**64), "$.latency_us"),
    "depth 2^63": (line("lane.reorg", depth=2**63), "$.depth"),
    "block number 2^63": (line("batch.posted", block={**BLOCK, "number": 2**63}), "$.block.number"),
    "lane of 201 characters": (line(lane="l" * 201), "$.lane: expected `str` of length <= 200"),
    "event_id of 201 characters": (line(event_id="e" * 201), "$.event_id"),
    "settlement_id of 201 characters": (line("settlement.submitted", settlement_id="s" * 201), "$.settlement_id"),
    "batch_id of 201 characters": (line("batch.posted", batch_id="b" * 201), "$.batch_id"),
    "an unknown kind of 65 characters": (line("k" * 65), "$.kind: expected `str` of length <= 64"),
    "a NUL in the lane": (line(lane="l2\x00arb"), "$.lane: a string holds a NUL"),
    "a NUL in an event_id": (line(event_id="x\x00"), "$.event_id"),
    "a NUL in a reason": (line("settlement.failed", settlement_id="s", reason="a\x00b"), "$.reason"),
    "a NUL in an unknown kind": (line("lane\x00beat"), "$.kind"),
    "a NUL in an extra field": (line(note="\x00"), "$.note"),
    f"nesting {DEPTH_MAX + 1} deep": (line(raw=nested(DEPTH_MAX + 1)), f"nested deeper than {DEPTH_MAX} levels"),
    "nesting 1000 deep": (line(raw=nested(1000)), "nested deeper"),
    "nesting 1000 deep in a typed field": (line(raw=nested(1000).replace('"x"', '"seq"')), "nested deeper"),
    "a line over 1 MiB": (line(raw='"pad": "' + "p" * LINE_MAX + '"'), "over the 1048576 byte (1 MiB) limit"),
}


@pytest.mark.parametrize(("text", "reason"), REJECTED.values(), ids=REJECTED.keys())
def test_a_line_out_of_bounds_is_rejected_with_its_number_and_the_rest_kept(text: str, reason: str) -> None:
    kept, rejected = outcome(text)
    assert kept == ["before", "after"]
    assert len(rejected) == 1
    assert rejected[0][0] == 2
    assert reason in rejected[0][1]


def test_a_line_of_exactly_1_mib_is_accepted_and_one_byte_more_is_not() -> None:
    short = line(raw='"pad": ""')
    exact = short[:-2] + "p" * (LINE_MAX - len(short)) + '"}'
    assert len(exact.encode()) == LINE_MAX
    assert outcome(exact)[1] == []
    over = exact[:-2] + 'p"}'
    assert [n for n, _ in outcome(over)[1]] == [2]


def test_bounds_hold_for_a_line_with_no_final_newline() -> None:
    events, stats = parse_events([(line(event_id="a") + "\n" + line(event_id="b", ts="2101-01-01T00:00:00Z")).encode()])
    assert [e.event_id for e in events] == ["a"]
    assert [r.line for r in stats.rejected] == [2]


def _repeat(piece: bytes, total: int) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def test_a_60_mb_line_is_refused_early_without_holding_it() -> None:
    """It was re-copied per chunk (10 s of CPU for 60 MB); now the stream keeps at most
    LINE_MAX of it and drops the rest as it arrives."""
    stream = EventStream()
    tracemalloc.start()
    try:
        kept = stream.feed((line(event_id="a") + "\n" + '{"event_id": "huge", "pad": "').encode())
        for piece in _repeat(b"p" * 65536, 60 << 20):
            kept += stream.feed(piece)
        kept += stream.feed(('"}\n' + line(event_id="b") + "\n").encode())
        kept += stream.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.event_id for e in kept] == ["a", "b"]
    assert [r.line for r in stream.stats.rejected] == [2]
    assert "more than" in stream.stats.rejected[0].reason
    assert stream.lines_read == 3
    assert peak < 4 * LINE_MAX


def test_an_over_long_last_line_without_newline_is_rejected_once() -> None:
    stream = EventStream()
    stream.feed(b'{"pad": "' + b"p" * (LINE_MAX + 10))
    assert stream.close() == []
    assert stream.stats.rejected_total == 1
    assert stream.lines_read == 1


def test_only_the_first_rejections_keep_their_reason_and_all_are_counted() -> None:
    bad = b"not json\n" * 10_000
    events, stats = parse_events([line(event_id="ok").encode() + b"\n" + bad])
    assert [e.event_id for e in events] == ["ok"]
    assert stats.rejected_total == 10_000
    assert len(stats.rejected) == KEPT
    assert [r.line for r in stats.rejected] == list(range(2, KEPT + 2))


def test_only_the_first_redeliveries_are_listed_and_all_are_counted() -> None:
    body = (line(event_id="same") + "\n") * 1000
    events, stats = parse_events([body.encode()])
    assert len(events) == 1
    assert (stats.redelivered_total, len(stats.redelivered)) == (999, KEPT)


POISON = [
    line(ts="0001-01-01T00:00:00Z"),
    line("settlement.submitted", notional_usd=1.7e308),
    line(lane="l" * 201),
    line(lane="a\x00"),
    line(raw=nested(40)),
    line(raw=nested(1000)),
    line(raw='"pad": "' + "p" * (LINE_MAX + 1) + '"'),
    line(seq=2**63),
    "not json",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 10**6), st.integers(-len(POISON), -1)), min_size=1, max_size=30),
    st.sampled_from([1, 7, 100, 4096, 65536, 1 << 22]),
)
def test_any_mix_of_poison_and_valid_lines_in_any_chunking_keeps_every_valid_line(rows: list[int], size: int) -> None:
    lines, valid, poison = [], [], []
    for i, row in enumerate(rows):
        if row >= 0:
            lines.append(line(event_id=f"ok-{i}", seq=row))
            valid.append(f"ok-{i}")
        else:
            lines.append(POISON[-1 - row].replace('"event_id": "x"', f'"event_id": "bad-{i}"'))
            poison.append(i + 1)
    data = ("\n".join(lines) + "\n").encode()
    events, stats = parse_events(chunks(data, size))
    assert [e.event_id for e in events] == valid
    assert [r.line for r in stats.rejected] == poison
    alone = [parse_events([text.encode()]) for text in lines]
    assert [bool(found) for found, _ in alone] == [row >= 0 for row in rows], "each line judged alike alone and in a block"


def test_the_block_fast_path_and_the_line_path_agree_on_a_realistic_block() -> None:
    """A block whose lines each pass alone passes whole through the fast path; one poison
    line among thousands is found and named."""
    good = [line(event_id=f"e{i}", seq=i) for i in range(5000)]
    body = "\n".join([*good[:2500], line(raw=nested(DEPTH_MAX + 1)), *good[2500:]]) + "\n"
    events, stats = parse_events([body.encode()])
    assert len(events) == 5000
    assert [r.line for r in stats.rejected] == [2501]


def test_a_reason_never_repeats_a_long_value() -> None:
    """A reason is echoed in answers and logs: a 1 MiB bad amount must not be, a hundred times."""
    _, rejected = outcome(line("settlement.submitted", amount="x" * 500_000))
    assert len(rejected) == 1
    assert len(rejected[0][1]) < 200
