"""Benchmark: ``POST /events`` into SQLite and PostgreSQL, and lane status queries with 1M events stored.

Goals (issue 3): at least 50k events/s into each store, reported also as a ratio to a plain
``json.loads`` of the same lines in the same run; lane status queries with ~1M events
stored answer with p99 under 5 ms.

A real ``lanekeeper serve`` process is started for each store; one client sends the
~1.1M-event stream as NDJSON bodies of ``--body-lines`` lines over a keep-alive connection,
as a settlement pipeline would. Each body is answered only after its events are committed,
so the rate is a committed rate. Then the status endpoints are queried (over HTTP, so the
figure includes the request's own cost) and the server is restarted to time the rebuild of
live status from the store.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from server import ServerProcess  # noqa: E402
from stores import store  # noqa: E402
from validate_speed import ensure_stream  # noqa: E402


def bodies(path: Path, lines_per_body: int) -> list[bytes]:
    lines = path.read_bytes().splitlines(keepends=True)
    return [b"".join(lines[i : i + lines_per_body]) for i in range(0, len(lines), lines_per_body)]


def json_parse_seconds(parts: list[bytes]) -> float:
    started = time.perf_counter()
    for body in parts:
        for line in body.splitlines():
            json.loads(line)
    return time.perf_counter() - started


def ingest(url: str, parts: list[bytes], senders: int) -> tuple[float, int]:
    """Send every body; ``senders`` clients at once, each on its own keep-alive connection."""

    def send(share: list[bytes]) -> int:
        stored = 0
        with httpx.Client(base_url=url, timeout=300) as client:
            for body in share:
                answer = client.post("/events", content=body, headers={"content-type": "application/x-ndjson"})
                answer.raise_for_status()
                stored += answer.json()["stored"]
        return stored

    shares = [parts[i::senders] for i in range(senders)]
    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        stored = sum(pool.map(send, shares))
    return time.perf_counter() - started, stored


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[max(0, round(0.99 * len(ordered)) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def query_latency(url: str, path: str, rounds: int) -> dict[str, float]:
    samples: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(20):  # warm the connection and the route
            client.get(path).raise_for_status()
        for _ in range(rounds):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def peak_rss_mib(server: ServerProcess) -> float:
    """The sum of peak RSS over the server and every process under it (the live-status
    child hangs under multiprocessing's fork server): an upper bound on what it held."""
    total_kib = 0
    for pid in server.tree():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def run_store(
    name: str, database_url: str, parts: list[bytes], *, events: int, json_s: float, queries: int, senders: int, work: Path
) -> dict[str, object]:
    print(f"\n[{name}] ingesting {events:,} events in {len(parts)} bodies ...", flush=True)
    server = ServerProcess({"LANEKEEPER_DATABASE_URL": database_url}, work / f"{name}.log").start()
    try:
        seconds, stored = ingest(server.url, parts, senders)
        assert stored == events, f"stored {stored} of {events}"
        result: dict[str, object] = {
            "events": events,
            "senders": senders,
            "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds),
            "ratio_to_json_parse": round(seconds / json_s, 2),
            "server_peak_rss_mib": round(peak_rss_mib(server), 1),
        }
        print(f"  {events / seconds:,.0f} events/s ({seconds:.1f} s; {seconds / json_s:.2f}x a plain json.loads)", flush=True)
        result["status_one_lane"] = query_latency(server.url, "/lanes/l2-arb", queries)
        result["status_all_lanes"] = query_latency(server.url, "/lanes", queries)
        print(f"  GET /lanes/l2-arb: {result['status_one_lane']}", flush=True)
        print(f"  GET /lanes:        {result['status_all_lanes']}", flush=True)
    finally:
        server.stop()
    started = time.perf_counter()
    server = ServerProcess({"LANEKEEPER_DATABASE_URL": database_url}, work / f"{name}.log").start(timeout=600)
    result["restart_to_healthy_s"] = round(time.perf_counter() - started, 2)
    server.stop()
    print(f"  restart with {events:,} stored (live status rebuilt): {result['restart_to_healthy_s']} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=Path, default=HERE / "data" / "stream-65min.ndjson")
    parser.add_argument("--minutes", type=int, default=65)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--body-lines", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=1, help="concurrent clients (a pipeline with several producers)")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    ensure_stream(args.events, args.minutes, args.seed)
    parts = bodies(args.events, args.body_lines)
    events = sum(body.count(b"\n") for body in parts)
    json_s = json_parse_seconds(parts)
    print(f"plain json.loads of the same {events:,} lines: {json_s:.2f} s ({events / json_s:,.0f} lines/s)")
    results: dict[str, object] = {"json_parse_s": round(json_s, 2), "body_lines": args.body_lines}
    with tempfile.TemporaryDirectory(prefix="lanekeeper-bench-") as tmp:
        work = Path(tmp)
        options: dict[str, Any] = {
            "events": events,
            "json_s": json_s,
            "queries": args.queries,
            "senders": args.senders,
            "work": work,
        }
        for name in args.stores.split(","):
            with store(name, work) as url:
                results[name] = run_store(name, url, parts, **options)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
