"""Benchmark: poison bodies into a real ``lanekeeper serve`` (SQLite).

Issue 15 reported 8 MB of bad lines taking 121 s, 2.4 GB peak and a 288 MB answer (every
rejection listed), and one 60 MB line costing 10 s of CPU (the buffer re-copied per
chunk). Each case is posted once, streamed in 64 KiB chunks; reported: the time to the
answer, the answer's size, the server's CPU seconds for it and the peak RSS of the
server process (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from server import ServerProcess  # noqa: E402
from stores import sqlite_url  # noqa: E402

GOOD = b'{"event_id": "g%d", "ts": "2026-03-02T14:00:00Z", "lane": "l2-arb", "seq": %d, "kind": "queue.depth", "value": 1}\n'
CHUNK = 64 << 10


def bad_lines(total: int) -> Iterator[bytes]:
    """``total`` bytes of two-byte lines that are not JSON."""
    piece = b"x\n" * (CHUNK // 2)
    for _ in range(total // len(piece)):
        yield piece


def long_line(total: int) -> Iterator[bytes]:
    """A valid line, one line of ``total`` bytes, a valid line."""
    yield GOOD % (1, 1) + b'{"event_id": "huge", "pad": "'
    piece = b"p" * CHUNK
    for _ in range(total // CHUNK):
        yield piece
    yield b'"}\n' + GOOD % (2, 2)


def _cpu_and_peak(pid: int) -> tuple[float, int]:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(stat[11]) + int(stat[12])  # utime + stime
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return ticks / 100, peak * 1024


def post(server: ServerProcess, body: Iterator[bytes]) -> dict[str, Any]:
    assert server.proc is not None
    cpu_before, _ = _cpu_and_peak(server.proc.pid)
    started = time.monotonic()
    answer = httpx.post(server.url + "/events", content=body, timeout=600)
    seconds = time.monotonic() - started
    cpu_after, peak = _cpu_and_peak(server.proc.pid)
    doc = answer.json()
    return {
        "status": answer.status_code,
        "seconds": round(seconds, 2),
        "server_cpu_s": round(cpu_after - cpu_before, 2),
        "answer_bytes": len(answer.content),
        "rejected_listed": len(doc.get("rejected", [])),
        "rejected_total": doc.get("rejected_total", len(doc.get("rejected", []))),
        "stored": doc.get("stored"),
        "server_peak_rss_mib": round(peak / (1 << 20)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bad-mb", type=int, default=8)
    parser.add_argument("--line-mb", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for name, body in (("bad_lines", bad_lines(args.bad_mb << 20)), ("long_line", long_line(args.line_mb << 20))):
        with tempfile.TemporaryDirectory() as tmp:
            env = {"LANEKEEPER_DATABASE_URL": sqlite_url(Path(tmp)), "LANEKEEPER_MAX_BODY_BYTES": str(256 << 20)}
            server = ServerProcess(env, Path(tmp) / "server.log").start()
            try:
                results[name] = post(server, body)
            finally:
                server.stop()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
