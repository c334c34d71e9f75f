"""``lanekeeper validate`` as users and their CI call it (contract §5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import EXAMPLE, load_example

from bot.cli.main import main

EVENTS, POLICY = str(EXAMPLE / "events.ndjson"), str(EXAMPLE / "policy.yaml")


def validate(*extra: str) -> list[str]:
    return ["validate", "--events", EVENTS, "--policy", POLICY, *extra]


def test_one_valid_summary_prints_one_report_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(validate("--summary", str(EXAMPLE / "summary-valid.json"))) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "violations": []}


def test_violations_exit_1_with_code_path_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(validate("--summary", str(EXAMPLE / "summary-invalid-2.json"))) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [(v["code"], v["path"]) for v in report["violations"]] == [("number.ungrounded", "/headline")]
    assert "31%" in report["violations"][0]["message"]


def test_a_corpus_gives_one_report_per_line_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    names = ["summary-invalid-4.json", "summary-valid.json", "summary-invalid-6.json"]
    args = [a for n in names for a in ("--summary", str(EXAMPLE / n))]
    assert main(validate(*args)) == 1
    lines = capsys.readouterr().out.splitlines()
    reports = [json.loads(line) for line in lines]
    assert [Path(r["summary"]).name for r in reports] == names
    assert [r["ok"] for r in reports] == [False, True, False]


def test_a_corpus_of_valid_summaries_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(validate("--summary", str(EXAMPLE / "summary-valid.json"), "--summary", str(EXAMPLE / "summary-valid.json"))) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["validate", "--events", "/nope.ndjson", "--policy", POLICY, "--summary", str(EXAMPLE / "summary-valid.json")],
            "cannot read --events /nope.ndjson: No such file or directory",
        ),
        (
            ["validate", "--events", EVENTS, "--policy", "/nope.yaml", "--summary", str(EXAMPLE / "summary-valid.json")],
            "cannot read --policy /nope.yaml",
        ),
        (["validate", "--events", EVENTS, "--policy", POLICY, "--summary", "/nope.json"], "cannot read --summary /nope.json"),
        (
            [
                "validate",
                "--events",
                EVENTS,
                "--policy",
                str(EXAMPLE / "expected.json"),
                "--summary",
                str(EXAMPLE / "summary-valid.json"),
            ],
            "lanes: required key is missing",
        ),
    ],
)
def test_an_unreadable_input_exits_2_with_one_line(args: list[str], reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert reason in captured.err
    assert captured.err.count("\n") == 1


def test_a_summary_that_is_not_json_is_a_schema_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"headline": ')
    assert main(validate("--summary", str(broken))) == 1
    (violation,) = json.loads(capsys.readouterr().out)["violations"]
    assert violation["code"] == "schema"
    assert violation["message"].startswith("not valid JSON")


def test_alerts_can_be_cited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = load_example("summary-valid.json")
    doc["claims"][0]["evidence"].append("am-7f3a")
    summary, alerts = tmp_path / "s.json", tmp_path / "alerts.json"
    summary.write_text(json.dumps(doc))
    alerts.write_text(json.dumps([{"alert_id": "am-7f3a", "lane": "l2-arb", "starts_at": "2026-03-02T14:05:00Z", "labels": {}}]))
    assert main(validate("--summary", str(summary))) == 1
    capsys.readouterr()
    assert main(validate("--summary", str(summary), "--alerts", str(alerts))) == 0


def test_malformed_alerts_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps([{"lane": "l2-arb"}]))
    assert main(validate("--summary", str(EXAMPLE / "summary-valid.json"), "--alerts", str(alerts))) == 2
    assert "alert_id" in capsys.readouterr().err


def test_bad_event_lines_are_reported_on_stderr_and_the_rest_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (EXAMPLE / "events.ndjson").read_text().splitlines()
    lines.insert(3, "{broken")
    lines.insert(5, lines[0])  # a re-delivery
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(lines) + "\n")
    code = main(["validate", "--events", str(events), "--policy", POLICY, "--summary", str(EXAMPLE / "summary-valid.json")])
    captured = capsys.readouterr()
    assert code == 0
    assert f"{events}:4: rejected: invalid JSON" in captured.err
    assert f"{events}:6: re-delivery of evt-0000238 ignored" in captured.err


def test_text_format_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(validate("--summary", str(EXAMPLE / "summary-invalid-1.json"), "--format", "text")) == 1
    out = capsys.readouterr().out
    assert "✗" in out
    assert "fact.mismatch" in out
    assert "checked against 2,080 events" in out


def test_the_console_script_never_prints_a_traceback() -> None:
    exe = shutil.which("lanekeeper", path=str(Path(sys.executable).parent))
    assert exe is not None
    result = subprocess.run(
        [exe, "validate", "--events", "/nope", "--policy", POLICY, "--summary", "/nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("lanekeeper validate: cannot read")


def test_poison_events_are_rejected_with_their_lines_and_never_print_a_traceback(tmp_path: Path) -> None:
    """Issue 15: years 0001 and 9999, two notionals of 1.7e308 and a line nested 1000 deep
    printed a traceback; now each is a rejected line and the proposal is still checked on
    the valid events around them, with stderr capped at NOTE_LIMIT reasons and a count."""
    base = '{"event_id": "p%d", "ts": "2026-03-02T14:10:00Z", "lane": "l2-arb", "seq": 1, "kind": "settlement.submitted", '
    submitted = base + '"settlement_id": "ps%d", "asset": "ETH", "amount": "1", "notional_usd": %s}'
    poison = [
        submitted.replace("2026-03-02T14:10:00Z", "0001-01-01T00:00:00Z") % (1, 1, "1"),
        submitted.replace("2026-03-02T14:10:00Z", "9999-12-31T23:59:59Z") % (2, 2, "1"),
        submitted % (3, 3, "1.7e308"),
        submitted % (4, 4, "1.7e308"),
        (submitted % (5, 5, "1"))[:-1] + ', "x": ' + "[" * 1000 + "]" * 1000 + "}",
        *["not json"] * 30,
    ]
    lines = (EXAMPLE / "events.ndjson").read_text().splitlines()
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join([*lines[:10], *poison, *lines[10:]]) + "\n")
    exe = shutil.which("lanekeeper", path=str(Path(sys.executable).parent))
    assert exe is not None
    result = subprocess.run(
        [exe, "validate", "--events", str(events), "--policy", POLICY, "--summary", str(EXAMPLE / "summary-valid.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {"ok": True, "violations": []}
    rejected = [line for line in result.stderr.splitlines() if ": rejected: " in line]
    assert [int(line.split(":")[1]) for line in rejected[:5]] == [11, 12, 13, 14, 15]
    assert "outside years 2000 to 2100" in rejected[0]
    assert "$.notional_usd" in rejected[2]
    assert "nested deeper than 32" in rejected[4]
    assert len(rejected) == 20
    assert f"{events}: ... and 15 more rejected lines" in result.stderr


def test_a_summary_nested_100k_deep_is_a_schema_violation_not_a_traceback(tmp_path: Path) -> None:
    summary = tmp_path / "deep.json"
    summary.write_text("[" * 100_000)
    exe = shutil.which("lanekeeper", path=str(Path(sys.executable).parent))
    assert exe is not None
    result = subprocess.run(
        [exe, "validate", "--events", EVENTS, "--policy", POLICY, "--summary", str(summary)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    [violation] = json.loads(result.stdout)["violations"]
    assert violation["code"] == "schema"
    assert "nested too deep" in violation["message"]
