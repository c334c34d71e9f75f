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
