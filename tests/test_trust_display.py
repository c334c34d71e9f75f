"""The trust score where people and machines read it: ``/lane status``, the facts card, the
Prometheus gauge, and the example alert rule on it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml
from helpers import ROOT
from test_slack_app import Slack, slack_world
from test_summaries import World

from bot.metrics import Metrics

SCORE = "trust 2: failure rate 25.0%"
"""The incident of test_summaries: a 25% failure rate (past full at 20%) leaves 0.1 of the
trust, both canaries failing 0.2 of that: 100 x 0.1 x 0.2; the failure rate took most."""


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url, with_llm=False)


def test_lane_status_shows_each_lanes_trust_and_its_main_reason(world: World) -> None:
    world.open_incident()
    slack = Slack(world)
    assert SCORE in json.dumps(slack.command("/lane", "status").json()["blocks"], ensure_ascii=False)
    detail = json.dumps(slack.command("/lane", "status l2-arb").json()["blocks"], ensure_ascii=False)
    assert SCORE in detail
    assert "Trust score 2" in detail
    assert "Silent for " in detail


def test_the_facts_card_shows_each_lanes_trust_and_its_main_reason(world: World) -> None:
    world.open_incident()
    assert any(SCORE in card for card in world.card_texts())


def test_the_gauge_holds_each_lanes_trust_score(world: World) -> None:
    world.open_incident()
    world.bot.save_snapshot()
    assert 'lanekeeper_lane_trust_score{lane="l2-arb"} 2.0' in world.client.get("/metrics").text


def test_the_example_alert_rules_use_metrics_the_bot_exports() -> None:
    rules = yaml.safe_load((ROOT / "examples" / "prometheus" / "lanekeeper.rules.yml").read_text())
    exprs = {r["alert"]: r["expr"] for group in rules["groups"] for r in group["rules"]}
    exported = {m.name for m in Metrics().registry.collect()}
    assert "LaneTrustLow" in exprs
    for expr in exprs.values():
        assert set(re.findall(r"lanekeeper_[a-z_]+", expr)) <= exported, expr
