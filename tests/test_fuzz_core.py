"""Hypothesis fuzzing of what reads untrusted input: any JSON as a proposal, any text in a
proposal's free fields, any YAML as a policy, any bytes as a webhook payload or an event
stream. Each either answers (a report, a policy, alerts, events) or refuses with its own
typed error; none raises anything else, and nothing malformed is ever passed as valid."""

from __future__ import annotations

import json
from typing import Any

import yaml
from helpers import EXAMPLE, load_example
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.alerts import PayloadError, parse_alertmanager, parse_grafana, parse_pagerduty
from prompts import proposal_schema
from validators import Checker, Report, check_proposal
from validators.ndjson import parse_events
from validators.policy import PolicyError, parse_policy

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=12
)
VALID = load_example("summary-valid.json")
FIELDS = sorted(VALID)
CHECKER = Checker(parse_policy((EXAMPLE / "policy.yaml").read_text()), proposal_schema())
EVENTS, _ = parse_events([(EXAMPLE / "events.ndjson").read_bytes()])


def check(doc: Any) -> Report:
    return check_proposal(doc, EVENTS, CHECKER)


@FUZZ
@given(doc=JSON)
def test_any_json_as_a_proposal_gets_a_report_never_an_exception(doc: Any) -> None:
    report = check(doc)
    assert isinstance(report, Report)
    assert not report.ok, "no random document is a valid proposal"


def kind(value: Any) -> str:
    """A value's JSON type (a bool is no number)."""
    if isinstance(value, bool) or value is None:
        return repr(value)[:4]
    return "number" if isinstance(value, int | float) else type(value).__name__


@FUZZ
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_a_field_of_the_wrong_type_is_a_schema_violation_never_a_crash(field: str, value: Any) -> None:
    assume(kind(value) != kind(VALID[field]))
    report = check({**VALID, field: value})
    assert "schema" in report.codes, f"{field}={value!r}"


@FUZZ
@given(headline=st.text(max_size=200), text=st.text(max_size=600), reason=st.text(max_size=600))
def test_any_free_text_is_checked_without_a_crash(headline: str, text: str, reason: str) -> None:
    doc = json.loads(json.dumps(VALID))
    doc["headline"] = headline
    doc["claims"][0]["text"] = text
    if doc["actions"]:
        doc["actions"][0]["reason"] = reason
    report = check(doc)
    if len(headline) > 150 or len(text) > 500:
        assert "content.too_long" in report.codes


def assert_policy_or_error(text: str) -> None:
    try:
        policy = parse_policy(text)
    except PolicyError as exc:
        error = str(exc)
    else:
        assert policy.lanes, "a parsed policy names its lanes"
        return
    assert error, "a refusal says why"


@FUZZ
@given(doc=JSON)
def test_any_yaml_as_a_policy_is_a_policy_or_one_policy_error(doc: Any) -> None:
    assert_policy_or_error(yaml.safe_dump(doc))


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_as_a_policy_is_a_policy_or_one_policy_error(text: str) -> None:
    assert_policy_or_error(text)


def test_the_example_policy_still_parses() -> None:
    assert parse_policy((EXAMPLE / "policy.yaml").read_text()).lanes


@FUZZ
@given(body=st.binary(max_size=300) | JSON.map(lambda d: json.dumps(d).encode()))
def test_any_bytes_as_a_webhook_are_alerts_or_one_payload_error(body: bytes) -> None:
    for parse in (parse_alertmanager, parse_grafana, parse_pagerduty):
        try:
            alerts = parse(body)
        except PayloadError as exc:
            refusal = (exc.status, bool(exc.reason))
        else:
            assert all(a.fingerprint and a.starts_at.tzinfo is not None for a in alerts)
            continue
        assert refusal in ((400, True), (422, True)), refusal


@FUZZ
@given(chunks=st.lists(st.binary(max_size=200), max_size=8))
def test_any_bytes_as_an_event_stream_never_crash_and_every_line_is_accounted_for(chunks: list[bytes]) -> None:
    events, stats = parse_events(chunks)
    stream = b"".join(chunks).removeprefix(b"\xef\xbb\xbf")  # a leading byte-order mark is not part of line 1
    lines = [line for line in stream.split(b"\n") if line.strip()]
    assert len(events) + len(stats.rejected) + len(stats.redelivered) == len(lines)
