"""Benchmark: alert to facts card, and the summary prompt's size against the window's events.

Goals (issue 4): an alert's facts card reaches Slack with p99 under 200 ms on SQLite
(excluding Slack's own latency: the loopback fake answers at once), unchanged when the LLM
takes 30 s to answer; the prompt stays the same order of size, under 4k tokens, whether
the window holds 10k or 1M events.

Latency: a real ``lanekeeper serve`` on SQLite with ~100k events stored, a loopback Slack
Web API and a loopback OpenAI-compatible server that answers at once or after 30 s. Each
sample posts one Alertmanager webhook that opens a new incident and times until the fake
Slack receives that incident's ``chat.postMessage``. Samples are ``--spacing`` apart (1.05 s
by default): the outbox sends about one message a second per channel, as Slack allows, and
a faster stream of new incidents would time the pacing, not the bot.

Prompt size: in process, the bench stream is stored, one incident over all four lanes is
opened, and its prompt built the way the summarizer builds it; tokens are estimated at four
characters each (no tokenizer can be downloaded here), and the JSON's characters reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from fakes import FakeOpenAI, FakeSlack, honest_after, running  # noqa: E402
from gen_stream import LANES, START  # noqa: E402
from server import ServerProcess, bot_env  # noqa: E402
from validate_speed import ensure_stream  # noqa: E402


def alert_payload(name: str, lane: str, starts: datetime, summary: str = "settlement failures above 2%") -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "lane": lane, "severity": "warning"},
        "annotations": {"summary": f"{lane} {summary}", "description": "failure rate over 5m above threshold"},
        "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com/graph",
    }
    body = {"receiver": "lanekeeper", "status": "firing", "alerts": [alert], "groupLabels": {}, "commonLabels": {}}
    body |= {"commonAnnotations": {}, "externalURL": "http://am.example.com", "version": "4", "groupKey": name}
    return json.dumps(body).encode()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def card_latency(events: Path, preload: int, samples: int, llm_delay: float, work: Path, *, spacing: float) -> dict[str, Any]:
    with events.open("rb") as handle:
        lines = list(itertools.islice(handle, preload))
    with running(FakeOpenAI(responder=honest_after(llm_delay))) as llm, running(FakeSlack()) as slack:
        database_url = f"sqlite:///{work / f'cards-{llm_delay:g}.db'}"
        env = bot_env(database_url, slack.url, llm.url, LANEKEEPER_GROUP_BY="alertname,lane")
        server = ServerProcess(env, work / "cards.log").start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for i in range(0, len(lines), 10_000):
                    client.post("/events", content=b"".join(lines[i : i + 10_000])).raise_for_status()
                latencies = []
                starts = START + timedelta(seconds=preload // 300)
                for n in range(samples):
                    time.sleep(spacing)
                    before = len(slack.of("chat.postMessage"))
                    sent = time.monotonic()
                    client.post("/webhooks/alertmanager", content=alert_payload(f"Bench{n}", "l2-arb", starts)).raise_for_status()
                    while len(slack.of("chat.postMessage")) == before:
                        time.sleep(0.0005)
                    latencies.append((slack.of("chat.postMessage")[-1].at - sent) * 1000)
            result = {"llm_delay_s": llm_delay, "events_stored": len(lines), "alerts": samples, "spacing_s": spacing}
            result |= percentiles(latencies)
            result["llm_requests_started"] = len(llm.requests)
            return result
        finally:
            server.stop()


def prompt_size(events: Path, count: int, work: Path) -> dict[str, Any]:
    from bot.alerts import parse_alertmanager
    from bot.config import Settings
    from bot.runtime import Bot
    from bot.summarize.context import load_context
    from bot.summarize.prompt import build_prompt, estimate_tokens

    settings = Settings(_env_file=None, database_url=f"sqlite:///{work / f'prompt-{count}.db'}", group_by=["alertname"])  # type: ignore[call-arg]
    bot = Bot(settings)
    bot.start()
    try:
        with events.open("rb") as handle:
            lines = list(itertools.islice(handle, count))
        session = bot.ingestor.session()
        for i in range(0, len(lines), 10_000):
            session.feed(b"".join(lines[i : i + 10_000]))
        report = session.close()
        newest = json.loads(lines[-1])["ts"]
        end = datetime.fromisoformat(newest.replace("Z", "+00:00"))
        lookback = end - START + timedelta(minutes=1)
        for lane in LANES:  # one incident over all four lanes: the largest prompt per incident
            bot.incidents.receive(parse_alertmanager(alert_payload("SettlementDegraded", lane, end)))
        [incident] = [n.incident_id for n in bot.incidents.due()]
        started = time.perf_counter()
        context = load_context(bot.engine, bot.events, bot.policy, incident, lookback)
        loaded = time.perf_counter() - started
        prompt = build_prompt(context, bot.policy)
        chars = sum(len(m["content"]) for m in prompt.messages)
        return {
            "events_stored": report.stored,
            "events_in_window": context.events_checked,
            "lanes": len(context.lanes),
            "prompt_chars": chars,
            "prompt_tokens_est": estimate_tokens(prompt),
            "context_load_s": round(loaded, 2),
        }
    finally:
        bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=Path, default=HERE / "data" / "stream-65min.ndjson")
    parser.add_argument("--preload", type=int, default=100_000, help="events stored before the alerts")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--spacing", type=float, default=1.05, help="seconds between alerts (Slack paces a channel at ~1/s)")
    parser.add_argument("--sizes", default="10000,1000000", help="events in the window for the prompt sizes")
    parser.add_argument("--delays", default="0,30", help="LLM answer delays (s) to measure card latency under")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    ensure_stream(args.events, 65, 7)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lanekeeper-bench-") as tmp:
        work = Path(tmp)
        for delay in (float(d) for d in args.delays.split(",") if d):
            print(f"\nalert -> facts card, LLM answering after {delay:g} s ...", flush=True)
            results[f"card_llm_{delay:g}s"] = found = card_latency(
                args.events, args.preload, args.samples, delay, work, spacing=args.spacing
            )
            print(f"  {found}", flush=True)
        for size in (int(s) for s in args.sizes.split(",") if s):
            print(f"\nprompt size with {size:,} events ...", flush=True)
            results[f"prompt_{size}"] = found = prompt_size(args.events, size, work)
            print(f"  {found}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    started = datetime.now(UTC)
    main()
    print(f"\ndone in {(datetime.now(UTC) - started).total_seconds():.0f} s")
