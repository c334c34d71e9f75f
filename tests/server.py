"""``lanekeeper serve`` as a real process on a free loopback port (crash tests, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(database_url: str, slack_url: str, llm_url: str | None = None, **more: str) -> dict[str, str]:
    """The settings of a bot that talks to a loopback Slack (and LLM, when given)."""
    env = {
        "LANEKEEPER_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-loopback-token-0000",
        "SLACK_SIGNING_SECRET": "loopback-signing-secret",  # serve refuses a token without its secret
        "LANEKEEPER_CHANNEL": "C0INCIDENT",
        "SLACK_API_URL": slack_url,
    }
    if llm_url is not None:
        env |= {"OPENAI_API_KEY": "sk-loopback-key-000000000000", "OPENAI_BASE_URL": llm_url, "LANEKEEPER_MODEL": "fake-model"}
    return env | more


class ServerProcess:
    """Start, wait until healthy, kill -9 or stop; the log goes to a file for post-mortems."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        log = self.log_path.open("ab")
        command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port), "--log-format", "json"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not healthy after {timeout}s: {self.log_path.read_text()[-2000:]}")

    def tree(self) -> list[int]:
        """The server and every process under it (the live-status and summary children hang
        under multiprocessing's fork server)."""
        assert self.proc is not None
        found, pending = [], [self.proc.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            with contextlib.suppress(FileNotFoundError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
        return found

    def kill(self) -> None:
        """``kill -9``: no shutdown handler runs, exactly like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
