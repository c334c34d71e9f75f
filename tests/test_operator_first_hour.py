"""An operator's first hour, following the docs on a fresh machine: every mistake is one
line on stderr naming what to change, exit 2, no traceback; read commands never create a
store; a backup taken while events arrive loses nothing committed before it."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from helpers import Stream, wait_for
from server import ServerProcess
from stores import ADMIN_URL

from bot.cli.main import main
from bot.store.diagnose import explain


def lanekeeper(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a terminal runs it: its own process, no .env but what the test writes."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    command = [sys.executable, "-m", "bot.cli", *args]
    environment = {**base, **(env or {})}
    return subprocess.run(command, check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


@pytest.mark.parametrize(
    "command", [["lanes"], ["incidents"], ["settlement", "stl-1"], ["db", "check"], ["db", "backup", "b.db"]]
)
def test_a_read_command_in_another_directory_creates_no_store_and_says_where_it_looked(
    tmp_path: Path, command: list[str]
) -> None:
    line = one_line(lanekeeper(*command, cwd=tmp_path))
    prefix = " ".join(command[:2] if command[0] == "db" else command[:1])
    assert line == (
        f"lanekeeper {prefix}: no store at {tmp_path / 'lanekeeper.db'}: nothing was created; run this where the bot's "
        "store is, or set LANEKEEPER_DATABASE_URL to it"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_store_url_with_a_wrong_scheme_is_one_line_and_never_echoes_the_password(tmp_path: Path) -> None:
    line = one_line(lanekeeper("serve", cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": "postgress://lk:s3cret@db/lk"}))
    assert line == "lanekeeper serve: LANEKEEPER_DATABASE_URL: use sqlite:///PATH or postgresql://USER@HOST/DB"


def test_a_store_in_a_directory_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'lk.db'}"
    line = one_line(lanekeeper("serve", cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": url}))
    assert line == (
        f"lanekeeper serve: LANEKEEPER_DATABASE_URL: the directory {tmp_path / 'nowhere'} does not exist; "
        "create it, or point the URL at another path"
    )
    assert not (tmp_path / "nowhere").exists()


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://lk:s3cret@127.0.0.1:1/lk"
    line = one_line(lanekeeper("serve", "--port", str(free_port()), cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": url}))
    assert line == (
        "lanekeeper serve: LANEKEEPER_DATABASE_URL: PostgreSQL at 127.0.0.1:1 refused the connection: is it running, on "
        "that port?"
    )
    assert "s3cret" not in line


def test_a_postgresql_without_that_database_is_one_line(tmp_path: Path) -> None:
    url = ADMIN_URL.rsplit("/", 1)[0] + "/no_such_lanekeeper_db"
    line = one_line(lanekeeper("serve", "--port", str(free_port()), cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": url}))
    assert line.endswith("has no database no_such_lanekeeper_db; create it (createdb no_such_lanekeeper_db)")
    assert line.startswith("lanekeeper serve: LANEKEEPER_DATABASE_URL: PostgreSQL at 127.0.0.1:5432 ")


@pytest.mark.parametrize(
    ("driver_said", "line"),
    [
        (
            'connection failed: FATAL:  password authentication failed for user "lk"',
            "LANEKEEPER_DATABASE_URL: PostgreSQL at db.example.com:5433 refused the user lk: wrong password",
        ),
        (
            "[Errno -2] Name or service not known",
            "LANEKEEPER_DATABASE_URL: PostgreSQL at db.example.com:5433 cannot be found: no host named db.example.com",
        ),
        ('FATAL:  role "lk" does not exist', "LANEKEEPER_DATABASE_URL: PostgreSQL at db.example.com:5433 has no user lk"),
    ],
    ids=["wrong-password", "unknown-host", "unknown-user"],
)
def test_what_postgresql_says_is_told_as_what_to_do(driver_said: str, line: str) -> None:
    """The server here trusts every local user, so a wrong password cannot be provoked: the
    driver's words (as psycopg reports them) are given instead."""
    assert explain(driver_said, "postgresql://lk:s3cret@db.example.com:5433/lk") == line


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(lanekeeper("serve", "--port", str(port), cwd=tmp_path))
    assert line == (
        f"lanekeeper serve: --port: {port} on 127.0.0.1 is in use (another lanekeeper serve?); stop what holds it, or "
        "choose another with --port"
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "LANEKEEPER_CHANNEL": "C1"},
            "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (Slack needs both: the token to post, the secret to "
            "check Slack's requests); set both, or neither to run without Slack",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s"},
            "SLACK_BOT_TOKEN: required with SLACK_SIGNING_SECRET (Slack needs both: the token to post, the secret to "
            "check Slack's requests); set both, or neither to run without Slack",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "LANEKEEPER_CHANNEL: required with SLACK_BOT_TOKEN (the channel incidents are posted to, by id)",
        ),
    ],
    ids=["token-without-secret", "secret-without-token", "no-channel"],
)
def test_slack_settings_half_set_are_one_line(tmp_path: Path, env: dict[str, str], line: str) -> None:
    assert one_line(lanekeeper("serve", "--port", str(free_port()), cwd=tmp_path, env=env)) == f"lanekeeper serve: {line}"


def test_a_bad_policy_is_one_line_with_its_yaml_line(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("lanes:\n  l1-eth: {kind: l1\n")
    line = one_line(lanekeeper("serve", cwd=tmp_path, env={"LANEKEEPER_POLICY": "policy.yaml"}))
    assert line.startswith("lanekeeper serve: LANEKEEPER_POLICY: policy.yaml: ")
    assert "line 3" in line or "line 2" in line


def test_serve_says_first_what_runs_and_that_nothing_will_be_posted(tmp_path: Path) -> None:
    server = ServerProcess({"LANEKEEPER_DATABASE_URL": f"sqlite:///{tmp_path / 'lk.db'}"}, tmp_path / "server.log")
    server.start()
    try:
        first = server.log_path.read_text().splitlines()[0]
    finally:
        server.stop()
    assert first == (
        f"lanekeeper serve: listening on {server.url} · store sqlite:///{tmp_path / 'lk.db'} · Slack is not configured; "
        "nothing will be posted · LLM: none, facts-only summaries · NATS: off"
    )


def test_a_backup_taken_while_events_arrive_restores_everything_committed_before_it(tmp_path: Path) -> None:
    store = tmp_path / "lk.db"
    server = ServerProcess({"LANEKEEPER_DATABASE_URL": f"sqlite:///{store}"}, tmp_path / "server.log")
    server.start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        batch = 0
        with httpx.Client(base_url=server.url) as client:
            while not stop.is_set():
                stream = Stream()
                ids = [stream.add("canary.result", batch, event_id=f"b{batch}-{i}", seq=batch * 100 + i) for i in range(100)]
                if client.post("/events", content=stream.ndjson()).status_code == 200:
                    acknowledged.extend(ids)  # committed: the server answers only after the commit
                batch += 1

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(lambda: len(acknowledged) >= 500, timeout=60)
        before = set(acknowledged)
        result = lanekeeper(
            "db", "backup", str(tmp_path / "backup.db"), cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": f"sqlite:///{store}"}
        )
        assert result.returncode == 0, result.stderr
        wait_for(lambda: len(acknowledged) > len(before) + 300, timeout=60)  # events went on arriving
    finally:
        stop.set()
        producer.join()
        server.stop()
    restored = tmp_path / "restored.db"
    (tmp_path / "backup.db").rename(restored)  # the restore the docs describe: the file in place of the store's
    with sqlite3.connect(restored) as conn:
        kept = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    assert before <= kept
    check = lanekeeper("db", "check", cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": f"sqlite:///{restored}"})
    assert check.returncode == 0, check.stderr
    assert "integrity: ok" in check.stdout
    counts = dict(re.findall(r"^  (\w+) +([\d,]+) rows$", check.stdout, re.M))
    assert counts["events"] == f"{len(kept):,}"


def test_db_backup_of_postgresql_says_to_use_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    assert lanekeeper("db", "upgrade", cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": postgres_url}).returncode == 0
    line = one_line(lanekeeper("db", "backup", "x.dump", cwd=tmp_path, env={"LANEKEEPER_DATABASE_URL": postgres_url}))
    assert line.startswith(
        "lanekeeper db backup: the store is PostgreSQL: back it up with its own tool, `pg_dump -Fc DB > FILE.dump`"
    )


def test_db_check_says_when_the_schema_is_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{tmp_path / 'old.db'}")
    assert main(["db", "upgrade", "--revision", "0004"]) == 0
    assert main(["db", "check"]) == 1  # a failed check, said; the store itself is readable
    out = capsys.readouterr().out
    assert "schema: revision 0004 (this version's: " in out
    assert "run `lanekeeper db upgrade`" in out
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "check"]) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
