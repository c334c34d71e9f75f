"""Settings: defaults, the notations people write, and one clear line for a bad value."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import ROOT
from hypothesis import given
from hypothesis import strategies as st

from bot.config import Settings, SettingsError, load_settings, parse_duration


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields.values():
        monkeypatch.delenv(str(name.validation_alias), raising=False)


def test_defaults_need_nothing_set() -> None:
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///lanekeeper.db"
    assert (settings.status_window, settings.group_wait, settings.group_interval) == (
        timedelta(minutes=30),
        timedelta(0),
        timedelta(minutes=5),
    )
    assert (settings.group_by, settings.inhibit_source, settings.lane_label) == (["lane"], ["alertname=LaneDown"], "lane")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", 30), ("5m", 300), ("4h", 14400), ("1h30m", 5400), ("250ms", 0.25), ("90", 90), ("1.5", 1.5)],
)
def test_durations_read_as_alertmanager_writes_them(text: str, expected: float) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_compound_durations_add_up(h: int, m: int, s: int) -> None:
    assert parse_duration(f"{h}h{m}m{s}s") == timedelta(hours=h, minutes=m, seconds=s)


def test_environment_and_env_file_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LANEKEEPER_GROUP_BY=lane, team\nLANEKEEPER_STATUS_WINDOW=1h\nLANEKEEPER_CHANNEL=C-from-file\n")
    monkeypatch.setenv("LANEKEEPER_CHANNEL", "C-from-env")
    settings = load_settings(env_file)
    assert (settings.group_by, settings.status_window, settings.channel) == (["lane", "team"], timedelta(hours=1), "C-from-env")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LANEKEEPER_STATUS_WINDOW", "soon", "LANEKEEPER_STATUS_WINDOW: invalid duration 'soon'"),
        ("LANEKEEPER_GROUP_INTERVAL", "0s", "LANEKEEPER_GROUP_INTERVAL: must be longer than 0s"),
        ("LANEKEEPER_INHIBIT_SOURCE", "LaneDown", "LANEKEEPER_INHIBIT_SOURCE: matcher 'LaneDown' is not label=value"),
        ("LANEKEEPER_DATABASE_URL", "mysql://x", "LANEKEEPER_DATABASE_URL: use sqlite:///PATH or postgresql://"),
        ("LANEKEEPER_MAX_BODY_BYTES", "-1", "LANEKEEPER_MAX_BODY_BYTES: Input should be greater than 0"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_bad_database_url_is_not_echoed_with_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", "mysql://admin:hunter2@db/x")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert "hunter2" not in str(caught.value)


def test_every_setting_in_env_example_is_one_the_bot_reads() -> None:
    known = {str(f.validation_alias) for f in Settings.model_fields.values()}
    listed = {
        line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")
    }
    assert listed == known


def test_every_setting_in_env_example_has_its_own_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    bare = [
        line for before, line in itertools.pairwise(lines) if line and not line.startswith("#") and not before.startswith("#")
    ]
    assert bare == []
