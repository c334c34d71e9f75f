"""Benchmark: ``lanekeeper validate`` on a ~1.1M-event, ~280 MB stream.

Goal (issue 2): at most 1.5x the time of a plain stdlib ``json.loads`` loop over the same
file, measured in the same run, with peak RSS at most 400 MiB. Both are timed as whole
processes (the CLI's start-up included), alternating, several rounds; medians compared.
The proposal checked is a real one built from the stream's own facts, so the run must
end ``ok`` — a benchmark of a validator that found nothing to do would prove nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from gen_stream import START, generate  # noqa: E402

from validators import FactsBuilder, Window, parse_policy  # noqa: E402
from validators.events import SettlementFailed  # noqa: E402
from validators.ndjson import EventStream  # noqa: E402

BASELINE = "import json, sys\nwith open(sys.argv[1]) as f:\n    for line in f:\n        json.loads(line)\n"
LANE = "l2-arb"
MIB = 1024 * 1024


def ensure_stream(path: Path, minutes: int, seed: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {path} ...", flush=True)
    n = generate(path, minutes=minutes, seed=seed)
    print(f"  {n:,} events, {path.stat().st_size / 1e6:.0f} MB", flush=True)


def build_proposal(events_path: Path, policy_path: Path, window: Window) -> dict[str, object]:
    """A proposal grounded in the stream (computed here, untimed)."""
    policy = parse_policy(policy_path.read_text())
    builder, stream = FactsBuilder([window]), EventStream()
    failed_ids: list[str] = []
    with events_path.open("rb") as handle:
        while chunk := handle.read(4 << 20):
            events = stream.feed(chunk)
            builder.add(events)
            failed_ids += [e.event_id for e in events if type(e) is SettlementFailed and e.lane == LANE and e.ts in window][
                : 3 - len(failed_ids)
            ]
    facts = builder.result()[window].lane(LANE)
    level, _ = policy.severity_of([(LANE, facts)])
    return {
        "schema_version": 1,
        "incident_id": "inc-bench-0001",
        "headline": f"{LANE}: {facts.failed} settlements failed ({facts.failure_rate * 100:.1f}%) since {window.start:%H:%M} UTC",
        "severity": level,
        "status": "investigating",
        "lanes": [LANE],
        "window": {"start": f"{window.start:%Y-%m-%dT%H:%M:%SZ}", "end": f"{window.end:%Y-%m-%dT%H:%M:%SZ}"},
        "claims": [
            {
                "text": f"{facts.failed} settlements failed on {LANE} in the last 30 min",
                "lane": LANE,
                "fact": "failed",
                "value": facts.failed,
                "evidence": failed_ids,
            },
            {
                "text": f"failure rate {facts.failure_rate * 100:.1f}%",
                "lane": LANE,
                "fact": "failure_rate",
                "value": facts.failure_rate,
                "evidence": failed_ids[:1],
            },
            {
                "text": f"${facts.failed_notional_usd / 1e6:.1f}M did not settle",
                "lane": LANE,
                "fact": "failed_notional_usd",
                "value": facts.failed_notional_usd,
                "evidence": failed_ids[:1],
            },
        ],
        "actions": [
            {
                "kind": "rollback",
                "lane": LANE,
                "reason": "failure rate is above the 2% rollback trigger",
                "evidence": failed_ids[:1],
            }
        ],
    }


def timed(cmd: list[str]) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (bytes) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed with exit {proc.returncode}")
    return elapsed, usage.ru_maxrss * 1024, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=Path, default=HERE / "data" / "stream-65min.ndjson")
    parser.add_argument("--minutes", type=int, default=65)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    ensure_stream(args.events, args.minutes, args.seed)
    end = START + timedelta(minutes=args.minutes)
    window = Window(end - timedelta(minutes=30), end)
    policy = HERE / "policy.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "proposal.json"
        summary.write_text(json.dumps(build_proposal(args.events, policy, window)))
        lanekeeper = str(Path(sys.executable).parent / "lanekeeper")
        validate_cmd = [lanekeeper, "validate", "--events", str(args.events), "--policy", str(policy), "--summary", str(summary)]
        baseline_cmd = [sys.executable, "-c", BASELINE, str(args.events)]
        base_times, val_times, rss = [], [], []
        for i in range(args.rounds):
            base_times.append(timed(baseline_cmd)[0])
            seconds, peak, out = timed(validate_cmd)
            report = json.loads(out)
            if not report["ok"]:
                raise SystemExit(f"the benchmark proposal did not validate: {report['violations']}")
            val_times.append(seconds)
            rss.append(peak)
            print(
                f"round {i + 1}: json.loads loop {base_times[-1]:.2f} s, lanekeeper validate {seconds:.2f} s, "
                f"peak RSS {peak / MIB:.0f} MiB",
                flush=True,
            )

    size = args.events.stat().st_size
    lines = sum(1 for _ in args.events.open("rb"))
    base, val = statistics.median(base_times), statistics.median(val_times)
    figures = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": lines,
        "bytes": size,
        "rounds": args.rounds,
        "json_loads_loop_s": round(base, 3),
        "validate_s": round(val, 3),
        "ratio": round(val / base, 3),
        "validate_peak_rss_mib": round(max(rss) / MIB, 1),
        "goal_ratio": 1.5,
        "goal_rss_mib": 400,
    }
    print(f"\n{lines:,} events, {size / 1e6:.0f} MB, median of {args.rounds} rounds")
    print(f"  plain json.loads loop : {base:.2f} s")
    print(f"  lanekeeper validate   : {val:.2f} s  ({val / base:.2f}x, goal <= 1.5x)")
    print(f"  peak RSS of validate  : {max(rss) / MIB:.0f} MiB (goal <= 400 MiB)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    met = val / base <= 1.5 and max(rss) <= 400 * MIB
    print("  goals met" if met else "  GOALS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
