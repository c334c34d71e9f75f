"""Event parsing (contract §1): bad lines reported with line and reason, nothing valid lost."""

from __future__ import annotations

import json

import msgspec
from helpers import Stream, chunks
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.events import SettlementSubmitted, UnknownEvent
from validators.ndjson import EventStream, describe_decode_error, parse_events


def _line(**over: object) -> str:
    base = {"event_id": "e1", "ts": "2026-03-02T14:05:07.123456Z", "lane": "l2-arb", "seq": 1, "kind": "queue.depth", "value": 3}
    base.update(over)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_valid_lines_beside_broken_ones_are_all_kept() -> None:
    lines = [_line(event_id="a"), "{not json", _line(event_id="b", seq="7"), _line(event_id="c"), "[1, 2]"]
    events, stats = parse_events(["\n".join(lines).encode()])
    assert [e.event_id for e in events] == ["a", "c"]
    assert [r.line for r in stats.rejected] == [2, 3, 5]
    assert "invalid JSON" in stats.rejected[0].reason
    assert stats.rejected[1].reason == "$.seq: expected `int`, got `str`"
    assert "expected `object`" in stats.rejected[2].reason


def test_missing_required_field_names_the_field() -> None:
    _, stats = parse_events([_line(ts=...).encode()])
    assert "`ts`" in stats.rejected[0].reason
    _, stats = parse_events([_line(kind="settlement.failed", settlement_id="s").encode()])
    assert stats.rejected[0].reason.startswith("settlement.failed:")
    assert "reason" in stats.rejected[0].reason


def test_timestamps_must_carry_a_zone() -> None:
    _, stats = parse_events([_line(ts="2026-03-02T14:05:07").encode()])
    assert "timezone" in stats.rejected[0].reason


def test_negative_seq_and_bool_for_int_are_wrong_types() -> None:
    _, stats = parse_events([(_line(seq=-1) + "\n" + _line(event_id="x", value=True)).encode()])
    assert [r.line for r in stats.rejected] == [1, 2]


def test_a_seq_beyond_64_bits_is_rejected_with_its_line_and_the_rest_kept() -> None:
    """Found by schemathesis: such a seq reached the store and failed the whole body with a 500."""
    body = "\n".join(
        [_line(event_id="a", seq=2**63), _line(event_id="b", seq=2**63 - 1), _line(event_id="c", kind="x.y", seq=2**64)]
    )
    events, stats = parse_events([body.encode()])
    assert [e.event_id for e in events] == ["b"]
    assert [r.line for r in stats.rejected] == [1, 3]
    assert "seq" in stats.rejected[0].reason


def test_unknown_kind_is_kept_and_counted() -> None:
    events, stats = parse_events([_line(kind="lane.heartbeat", value=...).encode()])
    assert isinstance(events[0], UnknownEvent)
    assert events[0].kind == "lane.heartbeat"
    assert stats.unknown_kinds == {"lane.heartbeat": 1}
    assert not stats.rejected


def test_redelivered_event_id_keeps_the_first_and_reports_the_rest() -> None:
    data = "\n".join([_line(value=1), _line(event_id="other"), _line(value=2), _line(value=3)]).encode()
    events, stats = parse_events([data])
    assert [e.event_id for e in events] == ["e1", "other"]
    assert events[0].value == 1  # type: ignore[union-attr]
    assert [(r.line, r.event_id) for r in stats.redelivered] == [(3, "e1"), (4, "e1")]


def test_redelivery_across_blocks_is_caught() -> None:
    stream = EventStream()
    first = stream.feed((_line(value=1) + "\n").encode())
    second = stream.feed((_line(event_id="z") + "\n" + _line(value=9) + "\n").encode())
    assert len(first) == 1
    assert [e.event_id for e in second] == ["z"]
    assert stream.stats.redelivered[0].line == 3


def test_amount_must_be_a_decimal_string_and_proof_hex() -> None:
    s = Stream()
    s.add("settlement.submitted", 1, amount="12.50")
    s.add("settlement.submitted", 2, settlement_id="s2", amount="1e5")
    s.add("settlement.finalized", 3, proof="0xnothex")
    s.add("proof.verified", 4, proof="beef")
    events, stats = parse_events([s.ndjson()])
    assert len(events) == 2
    assert [r.line for r in stats.rejected] == [2, 3]
    assert "decimal" in stats.rejected[0].reason
    assert "hex" in stats.rejected[1].reason


def test_blank_lines_crlf_and_a_missing_final_newline() -> None:
    data = (_line(event_id="a") + "\r\n\r\n   \n" + _line(event_id="b")).encode()
    events, stats = parse_events([data])
    assert [e.event_id for e in events] == ["a", "b"]
    assert not stats.rejected


def test_line_numbers_survive_any_chunking() -> None:
    data = "\n".join([_line(event_id=str(i)) if i != 7 else "oops" for i in range(1, 12)]).encode()
    for size in (1, 3, 17, 1000):
        _, stats = parse_events(chunks(data, size))
        assert [r.line for r in stats.rejected] == [7]


def test_decode_error_messages_read_as_path_then_problem() -> None:
    import msgspec

    error = msgspec.ValidationError("Expected `int`, got `str` - at `$.seq`")
    assert describe_decode_error(error) == "$.seq: expected `int`, got `str`"
    assert describe_decode_error(msgspec.DecodeError("JSON is malformed: x")) == "invalid JSON: x"


_VALID = st.builds(
    lambda i, v: _line(event_id=f"ok-{i}", seq=i, value=v),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
)
_GARBAGE = st.one_of(
    st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["{", "}", "[]", "null", '{"event_id": 1}', '{"kind": "queue.depth"}', '"str"', "0", "\x00"]),
)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.booleans(), _VALID, _GARBAGE), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=300),
)
def test_garbage_never_crashes_and_never_loses_a_valid_line(rows: list[tuple[bool, str, str]], size: int) -> None:
    lines, valid_ids = [], []
    for i, (is_valid, good, junk) in enumerate(rows):
        if is_valid:
            unique = good.replace('"event_id": "ok-', f'"event_id": "ok{i}-')
            lines.append(unique)
            valid_ids.append(json.loads(unique)["event_id"])
        else:
            lines.append(junk)
    data = "\n".join(lines).encode("utf-8", "surrogateescape")
    events, stats = parse_events(chunks(data, size))
    assert [e.event_id for e in events] == valid_ids
    assert all(isinstance(r.reason, str) and r.line >= 1 for r in stats.rejected)


def test_submitted_event_fields_are_typed() -> None:
    s = Stream()
    s.add("settlement.submitted", 5, notional_usd=12)
    event = s.events()[0]
    assert isinstance(event, SettlementSubmitted)
    assert event.notional_usd == 12.0
    assert event.ts.tzinfo is not None


_TS = st.sampled_from(["2026-03-02T14:00:00Z", "2026-03-02T14:00:00+00:00", "2026-03-02T15:00:00+01:00"])
_AMOUNT = st.sampled_from(["12.50", "-1", "1e5", "NaN", "", "1.", "0.000001"])
_PROOF = st.sampled_from(["0xabcd", "beef", "", "0x", "0xnothex", None])


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["settlement.submitted", "settlement.finalized", "proof.verified", "queue.depth"]),
            _TS,
            _AMOUNT,
            _PROOF,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_block_format_check_agrees_with_format_error(rows: list[tuple[str, str, str, str | None]]) -> None:
    from validators.events import KnownEventUnion, format_error
    from validators.ndjson import _formats_ok

    decoder = msgspec.json.Decoder(KnownEventUnion)
    events = []
    for i, (kind, ts, amount, proof) in enumerate(rows):
        fields = {
            "settlement.submitted": {"settlement_id": "s", "asset": "E", "amount": amount, "notional_usd": 1},
            "settlement.finalized": {
                "settlement_id": "s",
                "block": {"chain": "c", "number": 1, "ts": ts, "hash": "h"},
                "proof": proof,
            },
            "proof.verified": {"batch_id": "b", "proof": proof or "ab"},
            "queue.depth": {"value": 1},
        }[kind]
        line = {"event_id": str(i), "ts": ts, "lane": "l2-arb", "seq": i, "kind": kind, **fields}
        events.append(decoder.decode(json.dumps(line)))
    assert _formats_ok(events) == all(format_error(e) is None for e in events)


def test_only_a_byte_order_mark_at_the_very_start_is_skipped() -> None:
    """Found by hypothesis: a second BOM in a chunk of its own was skipped too (the stream
    still looked unstarted), so its line was neither accepted nor rejected."""
    _, stats = parse_events([b"\xef\xbb\xbf", b"\xef\xbb\xbf"])
    assert stats.rejected_total == 1
    events, stats = parse_events([b"\xef\xbb\xbf", _line().encode()])
    assert len(events) == 1
