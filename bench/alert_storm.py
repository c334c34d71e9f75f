"""Benchmark: an alert storm. 10,000 Alertmanager alerts in 60 s across four lanes, with
re-deliveries and flapping, into a real ``lanekeeper serve`` with a loopback Slack and LLM.

Goals (issue 8): no alert lost (every alert sent is stored once, in the state its last
delivery gave it); the incidents and Slack calls that result, counted; the outbox within
Slack's rate limits (chat.postMessage about 1/s per channel with short bursts,
chat.update ~50/min), read off the timestamps of the calls the fake Slack received; the
server responsive throughout: ``/healthz`` and ``/lane status`` (a signed slash command
through slack-bolt) each under 100 ms p99, probed from a process of its own every 50 ms
so the senders' GIL does not colour the figures.

The storm, per lane: Alertmanager groups by lane, so each webhook carries up to 20 of one
lane's alerts. Three lanes get a steady build-up of distinct alerts (5 rules x many
instances) with every group re-sent now and then (re-deliveries, as Alertmanager does at
group_interval), and a share of alerts resolving and firing again with a new startsAt
(flapping). The fourth lane, l1-eth, flaps as a whole: its one alert fires and resolves
every few seconds. Alertmanager has no flap damping, so without it (``--damping off``: the
policy's ``flap_window_s: 0``) each round is a new incident with a new card in the channel;
with it (issue 21, the default policy) the rounds reopen one incident, and once the lane is
flapping the channel is no longer told of each resolution. Each run reports the incidents
opened and the channel messages (cards, and thread replies sent to the channel too).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from fakes import FakeOpenAI, FakeSlack, SlackCall, honest_after, running, signed, slash_command  # noqa: E402
from gen_stream import LANES, START, generate  # noqa: E402
from server import ServerProcess, bot_env  # noqa: E402
from stores import store  # noqa: E402
from summary_speed import percentiles  # noqa: E402

SECRET = "bench-signing-secret"
RULES = ("SettlementFailures", "FinalityStall", "SequenceGap", "CanaryFailing", "FeedDivergence")
PER_PAYLOAD = 20
FLAPPING_LANE = "l1-eth"
STORM_LANES = [lane for lane in LANES if lane != FLAPPING_LANE]


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Alert:
    lane: str
    name: str
    instance: str
    starts: datetime
    firing: bool

    @property
    def key(self) -> tuple[str, str]:
        """What Alertmanager tells one alert by: (fingerprint, startsAt)."""
        return self.fingerprint, _stamp(self.starts)

    @property
    def fingerprint(self) -> str:
        return f"{self.lane}/{self.name}/{self.instance}"

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "firing" if self.firing else "resolved",
            "labels": {"alertname": self.name, "lane": self.lane, "instance": self.instance, "severity": "warning"},
            "annotations": {"summary": f"{self.name} on {self.lane} ({self.instance})"},
            "startsAt": _stamp(self.starts),
            "endsAt": "0001-01-01T00:00:00Z" if self.firing else _stamp(self.starts + timedelta(seconds=30)),
            "generatorURL": "http://prometheus.example.com/graph",
            "fingerprint": self.fingerprint,
        }


@dataclass(slots=True)
class Delivery:
    at: float
    """Seconds into the storm."""
    lane: str
    alerts: list[Alert]

    def body(self) -> bytes:
        status = "firing" if any(a.firing for a in self.alerts) else "resolved"
        payload = {
            "receiver": "lanekeeper", "status": status, "alerts": [a.as_json() for a in self.alerts],
            "groupLabels": {"lane": self.lane}, "commonLabels": {"lane": self.lane}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.example.com", "version": "4", "groupKey": f'{{}}:{{lane="{self.lane}"}}',
            "truncatedAlerts": 0,
        }  # fmt: skip
        return json.dumps(payload).encode()


@dataclass(slots=True)
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    """Alerts sent by kind: new, duplicate, resolved, refired."""
    final: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Each distinct alert's state after its last delivery (True: firing)."""

    @property
    def alerts(self) -> int:
        return sum(len(d.alerts) for d in self.deliveries)


def plan_storm(total: int, seconds: float, starts: datetime) -> Plan:
    """``total`` alerts in ``seconds``: about 60% new, 25% re-delivered, 15% flapping
    (resolved, then firing again with a new startsAt), plus l1-eth flapping as a whole.
    Deterministic: the same plan every run."""
    plan = Plan()
    # l1-eth: one alert fires and resolves in turn, every 5 s: each firing is a new incident.
    rounds = max(1, int(seconds // 10))
    for r in range(rounds):
        fired = Alert(FLAPPING_LANE, "LaneFlapping", "lane", starts + timedelta(seconds=10 * r), True)
        plan.deliveries.append(Delivery(10 * r, FLAPPING_LANE, [fired]))
        plan.deliveries.append(Delivery(10 * r + 5, FLAPPING_LANE, [Alert(*_fields(fired), firing=False)]))
        plan.kinds["new"] += 1
        plan.kinds["resolved"] += 1
        plan.final[fired.key] = False
    budget = total - 2 * rounds
    steps = max(1, math.ceil(budget / (PER_PAYLOAD * len(STORM_LANES))))
    live: dict[str, list[Alert]] = {lane: [] for lane in STORM_LANES}  # firing now, oldest first
    made = 0
    for step in range(steps):
        kind = ("new", "new", "new", "duplicate", "flap", "new", "duplicate", "new")[step % 8]
        for n, lane in enumerate(STORM_LANES):
            firing = live[lane]
            batch: list[Alert] = []
            if kind == "duplicate" and firing:
                batch = firing[-PER_PAYLOAD:]  # re-sent unchanged: nothing about them changes
                plan.kinds["duplicate"] += len(batch)
            elif kind == "flap" and len(firing) >= PER_PAYLOAD // 2:
                for old in firing[: PER_PAYLOAD // 2]:
                    again = Alert(old.lane, old.name, old.instance, old.starts + timedelta(seconds=1), True)
                    batch += [Alert(*_fields(old), firing=False), again]
                del firing[: PER_PAYLOAD // 2]
                firing += [a for a in batch if a.firing]
                plan.kinds["resolved"] += PER_PAYLOAD // 2
                plan.kinds["refired"] += PER_PAYLOAD // 2
            else:
                for _ in range(PER_PAYLOAD):
                    batch.append(Alert(lane, RULES[made % len(RULES)], f"node-{made:05d}", starts, True))
                    made += 1
                firing += batch
                plan.kinds["new"] += len(batch)
            for alert in batch:
                plan.final[alert.key] = alert.firing
            plan.deliveries.append(Delivery(seconds * step / steps + 0.01 * n, lane, batch))
    plan.deliveries.sort(key=lambda d: d.at)
    return plan


def _fields(alert: Alert) -> tuple[str, str, str, datetime]:
    return alert.lane, alert.name, alert.instance, alert.starts


def send(url: str, plan: Plan, answers: list[dict[str, Any]], errors: list[str]) -> None:
    """Deliver the plan on its schedule, one sender per lane (as Alertmanager sends one
    group at a time); a 5xx or a broken connection is retried, as Alertmanager does."""

    def lane_sender(lane: str, began: float) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for delivery in (d for d in plan.deliveries if d.lane == lane):
                time.sleep(max(0.0, began + delivery.at - time.monotonic()))
                body = delivery.body()
                for _ in range(20):
                    try:
                        response = client.post("/webhooks/alertmanager", content=body)
                    except httpx.TransportError as exc:
                        errors.append(f"{type(exc).__name__}")
                        time.sleep(0.5)
                        continue
                    if response.status_code == 200:
                        answers.append(response.json())
                        break
                    errors.append(f"HTTP {response.status_code}")
                    time.sleep(0.5)

    began = time.monotonic()
    threads = [threading.Thread(target=lane_sender, args=(lane, began)) for lane in LANES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def probe(url: str, until: float, every: float, out: Any) -> None:
    """In a process of its own: GET /healthz and a signed ``/lane status`` in turn, timed."""
    samples: dict[str, list[tuple[float, float, int]]] = {"healthz": [], "lane_status": []}
    with httpx.Client(base_url=url, timeout=10) as client:
        while time.time() < until:
            started = time.perf_counter()
            status = client.get("/healthz").status_code
            samples["healthz"].append((time.time(), (time.perf_counter() - started) * 1000, status))
            body = slash_command("/lane", "status", user="U01ONCALL", response_url="http://127.0.0.1:9/respond")
            started = time.perf_counter()
            status = client.post("/slack/events", content=body, headers=signed(body, SECRET)).status_code
            samples["lane_status"].append((time.time(), (time.perf_counter() - started) * 1000, status))
            time.sleep(every)
    out.send(samples)


def max_in_window(calls: list[SlackCall], method: str, seconds: float) -> int:
    """The most calls of ``method`` in any ``seconds``-long window."""
    times = [c.at for c in calls if c.method == method]
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def stored_alerts(database_url: str) -> dict[tuple[str, str], bool]:
    from sqlalchemy import select

    from bot.store.engine import make_engine
    from bot.store.tables import alerts

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(alerts.c.fingerprint, alerts.c.starts_at, alerts.c.status)).all()
    finally:
        engine.dispose()
    return {(r.fingerprint, _stamp(r.starts_at)): r.status == "firing" for r in rows}


def incident_count(url: str) -> int:
    return len(httpx.get(url + "/incidents", params={"limit": 10_000}).json()["incidents"])


def outbox_depth(url: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith("lanekeeper_outbox_depth "):
            return float(line.split()[1])
    raise RuntimeError("no lanekeeper_outbox_depth in /metrics")


QUIET_S = 15.0
"""No Slack call for this long (over the summary debounce and the LLM's delay) and an empty
outbox: everything the storm caused has been sent."""


def settled(url: str, slack: FakeSlack) -> bool:
    quiet = time.monotonic() - max((c.at for c in slack.calls), default=0.0) > QUIET_S
    return quiet and outbox_depth(url) == 0


DEFAULT_POLICY = HERE.parent / "bot" / "defaults" / "policy.yaml"


def undamped_policy(work: Path) -> Path:
    """The default policy with flap damping off (``flap_window_s: 0``)."""
    text = DEFAULT_POLICY.read_text()
    assert "flap_window_s: 900" in text, "the default policy's flap window moved: update the benchmark"
    path = work / "policy-undamped.yaml"
    path.write_text(text.replace("flap_window_s: 900", "flap_window_s: 0"))
    return path


def channel_messages(calls: list[SlackCall]) -> int:
    """What people in the channel see arrive: cards, and replies also sent to the channel."""
    posts = [c for c in calls if c.method == "chat.postMessage"]
    return sum(1 for c in posts if not c.args.get("thread_ts") or c.args.get("reply_broadcast"))


def storm(
    total: int, seconds: float, work: Path, database_url: str, *, llm_delay: float = 2.0, damping: bool = True
) -> dict[str, Any]:
    events = work / "events.ndjson"
    if not events.exists():
        generate(events, minutes=6, seed=11)
    starts = START + timedelta(minutes=5)
    plan = plan_storm(total, seconds, starts)
    policy = {} if damping else {"LANEKEEPER_POLICY": str(undamped_policy(work))}

    with running(FakeOpenAI(responder=honest_after(llm_delay))) as llm, running(FakeSlack()) as slack:
        env = bot_env(database_url, slack.url, llm.url, SLACK_SIGNING_SECRET=SECRET, **policy)
        server = ServerProcess(env, work / "storm.log").start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                client.post("/events", content=events.read_bytes()).raise_for_status()
            spawn = multiprocessing.get_context("spawn")
            receive, give = spawn.Pipe(duplex=False)
            began = time.time()
            prober = spawn.Process(target=probe, args=(server.url, began + seconds + 5, 0.05, give))
            prober.start()
            answers: list[dict[str, Any]] = []
            errors: list[str] = []
            print(f"  sending {plan.alerts:,} alerts in {len(plan.deliveries):,} webhooks over {seconds:g} s ...", flush=True)
            send(server.url, plan, answers, errors)
            sent_s = time.time() - began
            samples = receive.recv()
            prober.join()
            drain_started = time.monotonic()
            while not settled(server.url, slack) and time.monotonic() - drain_started < 300:
                time.sleep(0.5)
            last_call = max((c.at for c in slack.calls), default=drain_started)
            drained_s = max(0.0, last_call - drain_started)
            incidents = incident_count(server.url)
        finally:
            server.stop()
        stored = stored_alerts(database_url)
        lost = [k for k in plan.final if k not in stored]
        wrong = [k for k, firing in plan.final.items() if k in stored and stored[k] != firing]
        methods = Counter(c.method for c in slack.calls)
        result: dict[str, Any] = {
            "damping": damping,
            "alerts_sent": plan.alerts,
            "webhooks": len(plan.deliveries),
            "storm_s": round(sent_s, 1),
            "kinds": dict(plan.kinds),
            "distinct_alerts": len(plan.final),
            "stored_alerts": len(stored),
            "lost": len(lost),
            "wrong_state": len(wrong),
            "answered": {k: sum(a[k] for a in answers) for k in ("alerts", "new", "duplicates", "resolved", "inhibited")},
            "sender_retries": dict(Counter(errors)),
            "incidents": incidents,
            "channel_messages": channel_messages(slack.calls),
            "slack_calls": dict(methods),
            "cards": sum(1 for c in slack.calls if c.method == "chat.postMessage" and "thread_ts" not in c.args),
            "slack_refused": slack.refused,
            "max_posts_1s": max_in_window(slack.calls, "chat.postMessage", 1.0),
            "max_posts_60s": max_in_window(slack.calls, "chat.postMessage", 60.0),
            "max_updates_60s": max_in_window(slack.calls, "chat.update", 60.0),
            "last_slack_call_after_storm_s": round(drained_s, 1),
            "llm_requests": len(llm.requests),
        }
        for name, rows in samples.items():
            in_storm = [ms for at, ms, _ in rows if at <= began + sent_s]
            result[name] = percentiles(in_storm) | {
                "samples": len(in_storm),
                "not_200": sum(1 for _, _, status in rows if status != 200),
            }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--damping", default="on,off", help="flap damping on, off, or both (on,off)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lanekeeper-storm-") as tmp:
        for name in args.stores.split(","):
            for damping in args.damping.split(","):
                key = f"{name}, damping {damping}"
                print(f"[{key}] alert storm: {args.alerts:,} alerts in {args.seconds:g} s ...", flush=True)
                folder = Path(tmp) / f"{name}-{damping}"  # a fresh SQLite file each run
                folder.mkdir()
                with store(name, folder) as url:
                    results[key] = storm(args.alerts, args.seconds, Path(tmp), url, damping=damping == "on")
                print(json.dumps(results[key], indent=2), flush=True)
        print("\nincidents opened and channel messages (cards and replies sent to the channel):")
        for key, result in results.items():
            print(f"  {key:>28}: {result['incidents']:>4} incidents, {result['channel_messages']:>4} channel messages")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
