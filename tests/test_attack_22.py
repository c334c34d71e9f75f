"""Issue 22 attacked from outside: each test reproduces a defect found by an outside tester
(an operator's mistake answered by a traceback, a password echoed, a read command that
writes, a backup that cannot be taken when the docs say to take it, a replay guard that
fails open). Each asserts the behaviour the issue asks for; all fail on the commit tested."""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.cli.serve import check_start, started_line
from bot.config import Settings, SettingsError


def _one_line(code: int, err: str) -> str:
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert err.count("\n") == 1, err
    return err.strip()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The command in process; an exception escaping main() is the traceback a terminal would show."""
    try:
        code = main(argv)
    except BaseException as exc:
        pytest.fail(f"lanekeeper {' '.join(argv)} raised {type(exc).__name__}: {exc}")
    return code, capsys.readouterr().err


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("LANEKEEPER_", "SLACK_", "OPENAI_")):
            monkeypatch.delenv(name)
    return tmp_path


def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "s.db", revision: str = "head") -> Path:
    path = tmp_path / name
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade", "--revision", revision]) == 0
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- serve: start-up mistakes -------------------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_one_line(in_tmp: Path, capsys: pytest.CaptureFixture[str], port: str) -> None:
    # observed: OverflowError: bind(): port must be 0-65535. (traceback, exit 1)
    code, err = _run(["serve", "--port", port], capsys)
    assert "--port" in _one_line(code, err)


def test_a_port_whose_last_connections_are_in_time_wait_is_not_in_use(in_tmp: Path) -> None:
    """Restarting serve right after stopping it: the old connections sit in TIME_WAIT for a
    minute; uvicorn binds with SO_REUSEADDR and would start, but the probe (a plain bind)
    says 'is in use (another lanekeeper serve?)' and serve refuses to start."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server closes first: its side of the connection goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()  # the old server is gone
    check_start(Settings(_env_file=None), "127.0.0.1", port)  # observed: SettingsError "--port: ... is in use"


def test_an_unknown_host_is_blamed_on_host_not_port(in_tmp: Path) -> None:
    # observed: "--port: 18790 on no.such.host.invalid cannot be used: Name or service not known; stop what holds it,
    # or choose another with --port"
    with pytest.raises(SettingsError) as caught:
        check_start(Settings(_env_file=None), "no.such.host.invalid", _free_port())
    assert str(caught.value).startswith("--host")


def test_a_blank_signing_secret_is_refused_before_anything_starts(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A templated env file writes SLACK_SIGNING_SECRET=' ': observed: the started line
    ('posting to  '), then slack_sdk's ValueError 'signing_secret must not be empty.' as a traceback, exit 1."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", " ")
    monkeypatch.setenv("LANEKEEPER_CHANNEL", " ")
    with pytest.raises(SettingsError):
        check_start(Settings(_env_file=None), "127.0.0.1", _free_port())


def test_the_started_line_never_shows_the_nats_password(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # observed: "... · NATS: SETTLEMENT at nats://user:hunter2@127.0.0.1:4"
    monkeypatch.setenv("LANEKEEPER_NATS_URL", "nats://user:hunter2@127.0.0.1:4222")
    line = started_line(Settings(_env_file=None), "127.0.0.1", 8080, "sqlite:///lanekeeper.db")
    assert "hunter2" not in line


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_store_is_refused_at_start_up(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Observed: serve starts ('store sqlite://'), /healthz answers ok: true, and every POST
    /events is 503 'no such table: events' (each pooled connection has its own empty memory
    database; the migrations went to another), with 'background tick failed, retrying: no such
    table: incidents' twice a second for ever."""
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", url)
    with pytest.raises(SettingsError):
        check_start(Settings(_env_file=None), "127.0.0.1", _free_port())


# --- the store URL ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["lanes"], ["incidents"], ["settlement", "s-1"], ["db", "check"], ["serve"]])
def test_a_password_with_an_at_sign_is_one_line_and_never_echoed(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # observed: lanes/settlement: ValueError traceback ending "invalid literal for int() with base 10: 'w0rd@127.0.0.1'";
    # db check/serve: "lanekeeper db check: invalid literal for int() with base 10: 'w0rd@127.0.0.1'"
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", "postgresql://lk:p@ss:w0rd@127.0.0.1/lk")
    argv = [*command, "--port", str(_free_port())] if command == ["serve"] else command
    code, err = _run(argv, capsys)
    line = _one_line(code, err)
    assert "w0rd" not in line
    assert "LANEKEEPER_DATABASE_URL" in line


def test_an_empty_file_is_not_turned_into_a_database_by_a_read_command(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: exit 2 "the store at sqlite:///empty.db is not at this version's schema; run `lanekeeper db upgrade`",
    # and empty.db is now a 4,096-byte SQLite database in WAL mode
    (in_tmp / "empty.db").write_bytes(b"")
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", "sqlite:///empty.db")
    code, err = _run(["lanes"], capsys)
    _one_line(code, err)
    assert (in_tmp / "empty.db").stat().st_size == 0
    assert "db upgrade" not in err  # it is no store at all: migrating it would make one


def test_a_store_at_a_newer_schema_is_one_line_for_upgrade(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The binary rolled back after an upgrade: observed: read commands say 'run lanekeeper db
    upgrade'; db upgrade (and serve) print alembic's 70-line traceback 'Can't locate revision
    identified by '9999'', exit 1."""
    path = _store(in_tmp, monkeypatch)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    capsys.readouterr()
    code, err = _run(["db", "upgrade"], capsys)
    _one_line(code, err)
    code, err = _run(["lanes"], capsys)
    assert "run `lanekeeper db upgrade`" not in _one_line(code, err)


def test_an_unknown_revision_for_db_upgrade_is_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: alembic CommandError traceback, exit 1
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", "sqlite:///s.db")
    code, err = _run(["db", "upgrade", "--revision", "9999"], capsys)
    _one_line(code, err)


# --- settings files -----------------------------------------------------------------------


def test_a_dot_env_that_is_not_utf8_is_one_line_naming_it(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # observed: lanes: UnicodeDecodeError traceback (58 lines); serve: "lanekeeper serve: 'utf-8' codec can't decode ..."
    (in_tmp / ".env").write_bytes(b"LANEKEEPER_CHANNEL=C1\n\xff\xfejunk\n")
    code, err = _run(["lanes"], capsys)
    assert ".env" in _one_line(code, err)


def test_a_policy_that_is_not_utf8_names_the_setting(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed (serve): "lanekeeper serve: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    (in_tmp / "p.yaml").write_bytes(b"\xff\xfe garbage")
    monkeypatch.setenv("LANEKEEPER_POLICY", str(in_tmp / "p.yaml"))
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{in_tmp / 's.db'}")
    code, err = _run(["serve", "--port", str(_free_port())], capsys)
    assert _one_line(code, err).startswith("lanekeeper serve: LANEKEEPER_POLICY:")


# --- db backup and db check ---------------------------------------------------------------


def test_a_store_behind_the_schema_can_be_backed_up_before_it_is_upgraded(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/operations.md, Upgrading: 'Take a backup (below), then lanekeeper db upgrade'. With
    the new version installed, observed: 'lanekeeper db backup: the store at ... is not at this
    version's schema; run `lanekeeper db upgrade`' (exit 2): the backup is only possible after
    the migration it should protect against."""
    _store(in_tmp, monkeypatch, revision="0005")
    code, err = _run(["db", "backup", "before-upgrade.db"], capsys)
    assert code == 0, err
    assert (in_tmp / "before-upgrade.db").is_file()


def test_a_backup_to_memory_is_refused_in_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: the backup is written to an in-memory database, then FileNotFoundError traceback from target.stat()
    _store(in_tmp, monkeypatch)
    capsys.readouterr()
    code, err = _run(["db", "backup", ":memory:"], capsys)
    _one_line(code, err)


def test_a_backup_that_fails_midway_is_one_line_and_leaves_no_file(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills during the copy (here: a file-size limit). Observed: sqlite3.OperationalError
    'disk I/O error' traceback, exit 1, a partial copy and its -journal left behind; `db check`
    on it then rolls the journal back and says 'run lanekeeper db upgrade' (an empty store)."""
    path = _store(in_tmp, monkeypatch)
    with sqlite3.connect(path) as conn:  # some bulk, beside the store's own tables
        conn.execute("CREATE TABLE ballast (b BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (?)", [(os.urandom(4096),) for _ in range(256)])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "backup", "copy.db"],
        cwd=in_tmp,
        env={"PATH": "/usr/bin:/bin", "HOME": str(in_tmp), "LANEKEEPER_DATABASE_URL": f"sqlite:///{path}"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
        check=False,
    )
    _one_line(result.returncode, result.stderr)
    assert not (in_tmp / "copy.db").exists()
    assert not (in_tmp / "copy.db-journal").exists()


def test_db_check_on_a_malformed_file_says_so_with_exit_1(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: sqlalchemy.exc.DatabaseError: (sqlite3.DatabaseError) database disk image is malformed (traceback)
    _malformed(_store(in_tmp, monkeypatch))
    capsys.readouterr()
    code, err = _run(["db", "check"], capsys)
    out = capsys.readouterr().out
    assert code == 1, (code, err, out)
    assert "Traceback" not in err


def _malformed(path: Path) -> None:
    """Bytes over the start of three pages in the middle of the store (their b-tree or
    overflow headers, which SQLite's integrity check reads; bytes inside a row's data it
    cannot judge): its header stays whole, so it still opens."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("CREATE TABLE ballast (b BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (?)", [(os.urandom(600),) for _ in range(2000)])
    pages = path.stat().st_size // 4096
    with path.open("r+b") as f:
        for offset in (pages // 3 * 4096, pages // 2 * 4096, (pages // 2 + 3) * 4096):
            f.seek(offset)
            f.write(hashlib.sha256(str(offset).encode()).digest() * 2)


def test_a_backup_of_a_malformed_store_is_refused_and_leaves_no_file(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: "backed up ... to copy.db": a copy of the damage, said to be a backup
    _malformed(_store(in_tmp, monkeypatch))
    capsys.readouterr()
    code, err = _run(["db", "backup", "copy.db"], capsys)
    assert "db check" in _one_line(code, err)
    assert "backed up" not in capsys.readouterr().out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["s.db"]


def test_a_backup_onto_a_dangling_symlink_is_refused(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: the copy written through the link, to wherever it points
    _store(in_tmp, monkeypatch)
    (in_tmp / "copy.db").symlink_to(in_tmp / "elsewhere.db")
    capsys.readouterr()
    code, err = _run(["db", "backup", "copy.db"], capsys)
    assert "link" in _one_line(code, err)
    assert not (in_tmp / "elsewhere.db").exists()


def test_a_backup_of_postgresql_behind_the_schema_says_pg_dump(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stores import postgres_database

    from bot.store.engine import make_engine, upgrade

    databases = postgres_database()
    url = next(databases)
    try:
        engine = make_engine(url)
        upgrade(engine, "0005")
        engine.dispose()
        monkeypatch.setenv("LANEKEEPER_DATABASE_URL", url)
        code, err = _run(["db", "backup", "copy.dump"], capsys)
        assert "pg_dump" in _one_line(code, err)
        assert not (in_tmp / "copy.dump").exists()
    finally:
        databases.close()


def test_db_upgrade_of_a_current_store_with_an_orphan_does_not_blame_a_migration(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One orphan row in a store at head (db check: 'orphan row in incident_timeline', exit 1).
    Observed: `db upgrade` and `serve` refuse for ever: 'a migration left rows without their
    parent: [...]' though no migration ran; the bot cannot start on it."""
    path = _store(in_tmp, monkeypatch)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute(
            "INSERT INTO incident_timeline (entry_id, incident_id, at, kind, actor, detail) "
            "VALUES (999, 'inc-ghost', '2026-01-01 00:00:00', 'opened', NULL, '{}')"
        )
    capsys.readouterr()
    code, err = _run(["db", "upgrade"], capsys)
    assert "a migration left rows" not in err, err
    assert code == 0, err  # nothing to migrate


# --- the Slack replay guard ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["event:a\x00b", "event:a\udcffb"], ids=["nul", "lone-surrogate"])
def test_the_replay_guard_refuses_a_second_taking_of_any_key(postgres_url: str, key: str) -> None:
    """Two replicas (two guards) on one PostgreSQL. Observed: NUL: PostgreSQL refuses the
    string (DataError), the guard fails open: True on every replica; lone surrogate (a JSON
    body's \\udcff): UnicodeEncodeError escapes first_time."""
    from stores import migrated

    from bot.chatops.seen import SeenInStore

    engine = migrated(postgres_url)
    try:
        assert SeenInStore(engine, 10).first_time(key) is True
        assert SeenInStore(engine, 10).first_time(key) is False
    finally:
        engine.dispose()


@pytest.mark.parametrize("text", [b"\xff\xfe garbage", b"x: " + b"[" * 5000 + b"]" * 5000], ids=["not-utf8", "nested-5000-deep"])
def test_lanes_with_a_bad_policy_is_one_line_naming_it(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: bytes
) -> None:
    # observed: UnicodeDecodeError traceback (24 lines) / RecursionError traceback (2,999 lines), exit 1
    _store(in_tmp, monkeypatch)
    (in_tmp / "p.yaml").write_bytes(text)
    monkeypatch.setenv("LANEKEEPER_POLICY", str(in_tmp / "p.yaml"))
    capsys.readouterr()
    code, err = _run(["lanes"], capsys)
    assert _one_line(code, err).startswith("lanekeeper lanes: LANEKEEPER_POLICY:")


@pytest.mark.parametrize("host", ["::1", "::"])
def test_an_ipv6_host_is_not_refused(in_tmp: Path, host: str) -> None:
    """uvicorn serves on IPv6; the port probe opens an IPv4 socket only. Observed: "--port:
    N on ::1 cannot be used: Address family for hostname not supported; stop what holds it"."""
    check_start(Settings(_env_file=None), host, _free_port())


def test_an_incidents_limit_too_large_is_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # observed: OverflowError: Python int too large to convert to SQLite INTEGER (traceback, exit 1)
    _store(in_tmp, monkeypatch)
    capsys.readouterr()
    code, err = _run(["incidents", "--limit", "99999999999999999999"], capsys)
    assert code in (0, 2), err
    assert "Traceback" not in err


def test_with_slack_configured_the_first_line_still_says_what_runs(in_tmp: Path) -> None:
    """Observed: the first stderr line is the bot's own info log
    {"level": "info", "logger": "bot.store.leader", "msg": "this process sends the Slack outbox"},
    the started line comes second."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(in_tmp),
        "LANEKEEPER_DATABASE_URL": f"sqlite:///{in_tmp / 's.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "LANEKEEPER_CHANNEL": "C1",
        "SLACK_API_URL": "http://127.0.0.1:1/api/",
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(_free_port())]
    with subprocess.Popen(command, cwd=in_tmp, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stderr is not None
            first = proc.stderr.readline()
        finally:
            proc.kill()
    assert first.startswith("lanekeeper serve: listening on"), first


def test_a_dot_env_with_junk_lines_still_answers_in_one_line(in_tmp: Path) -> None:
    """Observed (stderr, 3 lines, the file never named):
    python-dotenv could not parse statement starting at line 1
    python-dotenv could not parse statement starting at line 2
    lanekeeper lanes: no store at ...: nothing was created; ..."""
    (in_tmp / ".env").write_text("this is junk\n=novalue\nLANEKEEPER_CHANNEL=C1\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "lanes"],
        cwd=in_tmp,
        env={"PATH": "/usr/bin:/bin", "HOME": str(in_tmp)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _one_line(result.returncode, result.stderr)
