"""``lanekeeper settlement ID``: one settlement's trace from the store for a dispute, and the
export a counterparty can check, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from alembic import command
from helpers import Stream, at
from sqlalchemy import Engine, text

from bot.cli.main import main
from bot.store.engine import alembic_config, upgrade
from bot.store.events import EventStore
from validators.ndjson import parse_events

BLOCK = {"block": {"chain": "arb", "number": 19000202, "ts": at(12), "hash": "0x5e7f"}}


def fill(engine: Engine) -> None:
    """stl-1 complete; stl-2 finalized without confirmation or proof; others around them."""
    stream = Stream()
    stream.add("settlement.submitted", 10, settlement_id="stl-1", notional_usd=25_400.52)
    stream.add("queue.depth", 11)
    stream.add("settlement.submitted", 11, settlement_id="stl-2")
    stream.add("settlement.confirmed", 12, settlement_id="stl-1", **BLOCK)
    stream.add("settlement.finalized", 40.25, settlement_id="stl-1", proof="0xabcd", **BLOCK)
    stream.add("settlement.finalized", 50, settlement_id="stl-2", **BLOCK)
    EventStore(engine).insert(list(reversed(stream.events())))  # stored out of order


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_engine: Engine, database_url: str) -> Engine:
    monkeypatch.chdir(tmp_path)  # no developer's .env is read
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", database_url)
    fill(store_engine)
    return store_engine


def test_the_store_reads_one_settlements_events_in_event_time_with_their_stored_lines(store: Engine) -> None:
    found = EventStore(store).settlement("stl-1")
    assert [e.kind for e, _ in found] == ["settlement.submitted", "settlement.confirmed", "settlement.finalized"]
    assert all(json.loads(line)["event_id"] == e.event_id for e, line in found)
    assert EventStore(store).settlement("stl-404") == []


def test_one_settlements_events_are_read_by_the_settlement_index_not_a_scan(store: Engine) -> None:
    query = "SELECT body FROM events WHERE settlement_id = 'stl-1' ORDER BY ts_us"
    with store.connect() as conn:
        if store.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table would be scanned whatever its indexes
            plan = " ".join(row[0] for row in conn.execute(text(f"EXPLAIN {query}")))
        else:
            plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    assert "ix_events_settlement_id" in plan


def test_migration_0007_goes_down_and_up_again(store: Engine) -> None:
    config = alembic_config(store)
    with store.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        connection.commit()
    upgrade(store)
    assert [e.event_id for e, _ in EventStore(store).settlement("stl-2")]


def test_the_trace_shows_every_event_in_order_with_hops_and_no_flags(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settlement", "stl-1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("stl-1 on l2-arb: finalized after 30.250 s")
    assert out[1].split()[:4] == ["SEQ", "KIND", "TS", "HOP"]
    assert [line.split()[1] for line in out[2:5]] == ["submitted", "confirmed", "finalized"]
    assert "+2.000s" in out[3]
    assert "arb#19000202 0x5e7f" in out[3]
    assert "0xabcd" in out[4]
    assert out[5] == "no inconsistency found"


def test_what_is_missing_is_flagged(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settlement", "stl-2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in doc["flags"]] == ["confirmed.missing", "proof.missing"]
    assert [s["kind"] for s in doc["steps"]] == ["settlement.submitted", "settlement.finalized"]
    assert doc["steps"][1]["block"] == {"chain": "arb", "number": 19000202, "hash": "0x5e7f", "ts": "2026-03-02T14:00:12Z"}


def test_the_export_is_the_stored_lines_with_a_digest_sha256sum_verifies(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "stl-1.ndjson"
    assert main(["settlement", "stl-1", "--export", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == [
        "settlement.submitted",
        "settlement.confirmed",
        "settlement.finalized",
    ]
    events, stats = parse_events([out.read_bytes()])
    assert (len(events), stats.rejected) == (3, [])
    digest = (tmp_path / "stl-1.ndjson.sha256").read_text()
    assert digest.split() == [digest.split()[0], "stl-1.ndjson"]
    assert digest.split()[0] in capsys.readouterr().out
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", "stl-1.ndjson.sha256"], cwd=tmp_path, check=True, capture_output=True)
    out.write_text(out.read_text().replace("0xabcd", "0xabce"))
    if shutil.which("sha256sum"):
        tampered = subprocess.run(["sha256sum", "-c", "stl-1.ndjson.sha256"], cwd=tmp_path, check=False, capture_output=True)
        assert tampered.returncode != 0


@pytest.mark.parametrize(("argv", "error"), [(["stl-404"], "no settlement stl-404"), (["x" * 201], "not a settlement id")])
def test_an_unknown_or_malformed_id_is_one_line(
    store: Engine, argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settlement", *argv]) == 1
    err = capsys.readouterr().err
    assert error in err
    assert err.count("\n") == 1


def test_an_unwritable_export_is_one_line(store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settlement", "stl-1", "--export", str(tmp_path / "no" / "such" / "dir.ndjson")]) == 2
    assert capsys.readouterr().err.startswith("lanekeeper settlement: cannot write")


def test_reading_a_settlement_never_creates_a_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert main(["settlement", "stl-1"]) == 2
    assert "no store at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
