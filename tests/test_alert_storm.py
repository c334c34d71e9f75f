"""An alert storm at a tenth of the benchmark's size (bench/alert_storm.py) through a real
``lanekeeper serve`` with a loopback Slack and LLM: no alert is lost or left in the wrong
state, re-deliveries are counted as such, each lane group is one incident (the flapping
lane one per round), the outbox keeps to Slack's pace, and the server answers throughout.
The latency figures and the number of probes are the benchmark's to report
(docs/performance.md), not asserted here: a busy machine probes less often."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from alert_storm import STORM_LANES, storm
from stores import sqlite_url

from bot.slack.outbox import Pace


def test_a_storm_of_alerts_loses_none_and_the_outbox_keeps_slacks_pace(tmp_path: Path) -> None:
    seconds = 12.0
    result = storm(1_200, seconds, tmp_path, sqlite_url(tmp_path), llm_delay=0.5)
    assert result["alerts_sent"] >= 1_200
    assert (result["lost"], result["wrong_state"]) == (0, 0)
    assert result["stored_alerts"] == result["distinct_alerts"]
    answered = result["answered"]
    assert answered["alerts"] == result["alerts_sent"], "every webhook answered, once"
    assert answered["new"] == result["distinct_alerts"]
    assert answered["duplicates"] == result["kinds"]["duplicate"]
    assert answered["resolved"] == result["kinds"]["resolved"]
    assert result["sender_retries"] == {}, "no webhook needed sending twice"
    flapping_rounds = int(seconds // 10)
    assert result["incidents"] == len(STORM_LANES) + flapping_rounds
    assert result["cards"] == result["incidents"], "one card per incident; the rest of it in its thread"
    pace = Pace()
    assert result["max_posts_1s"] <= pace.post_burst + pace.posts_per_second
    assert result["max_updates_60s"] <= pace.update_burst + pace.updates_per_second * 60
    assert result["healthz"]["not_200"] == 0
    assert result["lane_status"]["not_200"] == 0
    assert result["healthz"]["samples"] > 0
