"""Benchmark: slow senders. ``--connections`` clients (1,100 by default) open a POST /events
to a real ``lanekeeper serve``, send its headers (Content-Length: 1 MB) and then trickle
one byte a second; meanwhile a probe asks ``/healthz`` and posts a small valid body to
``/events`` every 100 ms, from a process of its own.

Issue 15 reported /healthz and /events failing for 40 s under 1,100 such connections,
with no slow sender ever timed out. Reported here: how many probes failed (and for how
long), their latency, and when the server cut the trickling connections (the body
deadline: LANEKEEPER_BODY_TIMEOUT plus bytes / LANEKEEPER_BODY_MIN_RATE).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from helpers import Stream  # noqa: E402
from server import ServerProcess  # noqa: E402
from stores import sqlite_url  # noqa: E402
from summary_speed import percentiles  # noqa: E402


async def _trickle(port: int, started: float, cut: list[float], failed: list[str], hold_s: float) -> None:
    """One slow sender: headers, then a byte a second until the server closes or ``hold_s``."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        failed.append(type(exc).__name__)
        return
    writer.write(b"POST /events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n")
    try:
        while time.monotonic() - started < hold_s:
            writer.write(b"{")
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(200), 1.0)
            except TimeoutError:
                continue
            if answer or reader.at_eof():
                cut.append(time.monotonic() - started)
                return
    except OSError:
        cut.append(time.monotonic() - started)
    finally:
        writer.close()


async def _attack(port: int, connections: int, hold_s: float) -> dict[str, Any]:
    started = time.monotonic()
    cut: list[float] = []
    failed: list[str] = []
    await asyncio.gather(*(_trickle(port, started, cut, failed, hold_s) for _ in range(connections)))
    cut.sort()
    return {
        "connections": connections,
        "connect_failures": len(failed),
        "cut_by_server": len(cut),
        "cut_after_s": {"first": cut[0], "median": cut[len(cut) // 2], "last": cut[-1]} if cut else None,
        "still_open_at_end": connections - len(cut) - len(failed),
    }


def _probe(url: str, seconds: float, out: Any) -> None:
    """/healthz and a one-event POST /events every 100 ms, each on a new connection; failures
    and latencies."""
    stream = Stream()
    samples: dict[str, list[float]] = {"healthz": [], "events": []}
    failures: dict[str, list[float]] = {"healthz": [], "events": []}
    started = time.monotonic()
    with httpx.Client(timeout=5, headers={"connection": "close"}) as client:  # a new connection each, as health checkers do
        i = 0
        while time.monotonic() - started < seconds:
            i += 1
            stream.add("queue.depth", i, event_id=f"probe-{i}", value=i)
            for name, call in (
                ("healthz", lambda: client.get(url + "/healthz")),
                ("events", lambda: client.post(url + "/events", content=stream.lines[-1].encode() + b"\n")),
            ):
                t = time.monotonic()
                try:
                    ok = call().status_code == 200
                except httpx.HTTPError:
                    ok = False
                (samples if ok else failures)[name].append(time.monotonic() - t if ok else t - started)
            time.sleep(0.1)
    out.send(
        {
            name: {
                "ok": len(samples[name]),
                "failed": len(failures[name]),
                "failed_between_s": [failures[name][0], failures[name][-1]] if failures[name] else None,
                **(percentiles([s * 1000 for s in samples[name]]) if samples[name] else {}),
            }
            for name in samples
        }
    )


def run(connections: int, seconds: float, env: dict[str, str], server_nofile: int | None) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with tempfile.TemporaryDirectory() as tmp:
        if server_nofile is not None:  # the server inherits the soft limit a shell would give it
            resource.setrlimit(resource.RLIMIT_NOFILE, (server_nofile, hard))
        server = ServerProcess({"LANEKEEPER_DATABASE_URL": sqlite_url(Path(tmp)), **env}, Path(tmp) / "server.log").start()
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, connections + 1024)), hard))
        try:
            receive, send = multiprocessing.Pipe(duplex=False)
            probe = multiprocessing.Process(target=_probe, args=(server.url, seconds, send))
            probe.start()
            attack = asyncio.run(_attack(server.port, connections, seconds))
            probes = receive.recv()
            probe.join()
        finally:
            server.stop()
    return {"attack": attack, "probes": probes, "server_env": env, "server_nofile": server_nofile}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a server setting")
    parser.add_argument("--server-nofile", type=int, help="the soft open-file limit the server starts with (e.g. 1024)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    result = run(args.connections, args.seconds, env, args.server_nofile)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
