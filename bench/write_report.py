"""Write docs/performance.md from the figures the benchmarks left in bench/results/.

``make bench`` runs each benchmark with ``--json bench/results/NAME.json`` and then this;
every figure in the document comes from those files, measured in that run, on this machine.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = HERE.parent / "docs" / "performance.md"


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `make bench` (it writes every result first)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _ms(q: dict[str, float]) -> str:
    return f"{q['p50_ms']:.1f} / {q['p99_ms']:.1f} / {q['max_ms']:.1f}"


def render(
    validate: dict[str, Any], ingest: dict[str, Any], summary: dict[str, Any], storm: dict[str, Any], races: dict[str, Any]
) -> str:
    cores = len(__import__("os").sched_getaffinity(0))
    lines = [
        "# Performance",
        "",
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d} ({platform.python_implementation()} "
        f"{platform.python_version()}, {cores} cores, a shared machine: absolute times drift, ratios less).",
        "Every figure below was written by the benchmarks in `bench/` in the same run; regenerate this page with `make bench`.",
        "",
        "## Validate speed (`bench/validate_speed.py`)",
        "",
        f"`lanekeeper validate` over a {validate['events']:,}-event, {validate['bytes'] / 1e6:.0f} MB stream against a plain "
        "`json.loads` loop over the same file, median of "
        f"{validate['rounds']} rounds: **{validate['validate_s']:.2f} s vs {validate['json_loads_loop_s']:.2f} s, "
        f"{validate['ratio']:.2f}x** (goal ≤ {validate['goal_ratio']}x); peak RSS {validate['validate_peak_rss_mib']:.0f} MiB "
        f"(goal ≤ {validate['goal_rss_mib']} MiB).",
        "",
        "## Ingest rate and lane status (`bench/ingest_speed.py`)",
        "",
        f"A real `lanekeeper serve` per store; one client posts the {ingest['sqlite']['events']:,}-event stream as "
        f"NDJSON bodies of {ingest['body_lines']:,} lines over keep-alive; a body is answered after its events are "
        f"committed. A plain `json.loads` of the same lines took {ingest['json_parse_s']:.2f} s.",
        "",
        "| store | events/s | ratio to json.loads | `/lanes/l2-arb` p50 / p99 / max ms | `/lanes` p50 / p99 / max ms "
        "| restart with all stored | peak RSS (all processes) |",
        "|---|---|---|---|---|---|---|",
    ]
    for store in ("sqlite", "postgresql"):
        r = ingest.get(store)
        if r:
            lines.append(
                f"| {store} | {r['events_per_s']:,} | {r['ratio_to_json_parse']:.2f}x | {_ms(r['status_one_lane'])} | "
                f"{_ms(r['status_all_lanes'])} | {r['restart_to_healthy_s']:.1f} s | {r['server_peak_rss_mib']:.0f} MiB |"
            )
    lines += [
        "",
        "Goals: at least 50k events/s into each store; status p99 under 5 ms with ~1M events stored. Memory at 1M",
        "events: the peak RSS column (the live-status child holds the window's settlements and heaps).",
        "",
        "## Alert to facts card (`bench/summary_speed.py`)",
        "",
        "A real server on SQLite with events stored, a loopback Slack Web API answering at once and a loopback",
        "OpenAI-compatible server; each alert opens a new incident and is timed until Slack receives its card.",
        "",
        "| LLM answers after | alerts | spacing | p50 / p99 / max ms |",
        "|---|---|---|---|",
    ]
    for key in sorted(k for k in summary if k.startswith("card_")):
        r = summary[key]
        lines.append(f"| {r['llm_delay_s']:g} s | {r['alerts']} | {r['spacing_s']} s | {_ms(r)} |")
    lines += [
        "",
        "Goal: p99 under 200 ms, unchanged when the LLM takes 30 s. Alerts are spaced at about Slack's per-channel",
        "pace (one message a second): faster, and the figure would time Slack's limit, not the bot.",
        "",
        "## Prompt size against the events in the window",
        "",
        "| events in the window | lanes | prompt characters | tokens (≈ chars / 4) | context load |",
        "|---|---|---|---|---|",
    ]
    for key in sorted((k for k in summary if k.startswith("prompt_")), key=lambda k: int(k.split("_")[1])):
        r = summary[key]
        size = f"{r['prompt_chars']:,} | {r['prompt_tokens_est']:,}"
        lines.append(f"| {r['events_in_window']:,} | {r['lanes']} | {size} | {r['context_load_s']:.2f} s |")
    lines += [
        "",
        "Goal: the same order of size for 10k and 1M events, under 4k tokens. The context load runs in the summary",
        "process, never in the server's.",
        "",
        *storm_section(storm),
        *races_section(races),
    ]
    return "\n".join(lines)


def races_section(races: dict[str, Any]) -> list[str]:
    stores = [name for name in ("sqlite", "postgresql") if name in races]
    rows = [
        f"| {name} | {r['rounds']:,} | {', '.join(f'{k} {v}' for k, v in sorted(r['outcomes'].items()))} | "
        f"{r['webhook_calls']:,} | **{r['double_executions']}** | {r['defects']} | {r['seconds']:.0f} s |"
        for name in stores
        for r in [races[name]]
    ]
    return [
        "## Simultaneous votes (`bench/action_races.py`)",
        "",
        f"{races['rounds_per_store']:,} races per store on a bot with its slack-bolt app: each a new rollback suggestion, "
        "then clicks signed as Slack signs them released at one instant, in four shapes in turn (an approval in, then "
        "two approvers at once; an approval in, then an approve and a reject at once; an approve and a reject at once; "
        "ten approvers at once). The action webhook, on loopback, counts calls per idempotency key; every action is "
        "judged after the last race.",
        "",
        "| store | races | outcomes | webhook calls | double executions | other defects | took |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Goal: {races['goal_double_executions']} double executions. Other defects: an action executed without a call, "
        "called but not executed, rejected but called, or in a status outside the lifecycle.",
        "",
    ]


def storm_section(storm: dict[str, Any]) -> list[str]:
    stores = [name for name in ("sqlite", "postgresql") if name in storm]
    first = storm[stores[0]]
    kinds = first["kinds"]

    def row(what: str, show: Any) -> str:
        return f"| {what} | " + " | ".join(show(storm[name]) for name in stores) + " |"

    return [
        "## Alert storm (`bench/alert_storm.py`)",
        "",
        f"{first['alerts_sent']:,} Alertmanager alerts in {first['webhooks']:,} webhooks over 60 s into a real server, "
        f"four lanes: {kinds['new']:,} new, {kinds['duplicate']:,} re-delivered, {kinds['resolved']:,} resolved and "
        f"{kinds['refired']:,} firing again with a new start (flapping), and l1-eth flapping as a whole every 10 s (each "
        "round a new incident: Alertmanager has no flap damping). A loopback Slack answers at once; the LLM after 2 s. "
        "`/healthz` and a signed `/lane status` slash command were probed every 50 ms from a process of their own "
        "throughout the storm. Slack's limits are read off the timestamps of the calls the fake Slack received.",
        "",
        "| | " + " | ".join(stores) + " |",
        "|---|" + "---|" * len(stores),
        row("distinct alerts sent / stored / lost / in the wrong state", lambda r: (
            f"{r['distinct_alerts']:,} / {r['stored_alerts']:,} / {r['lost']} / {r['wrong_state']}")),
        row("webhook answers: new / duplicates / resolved", lambda r: (
            f"{r['answered']['new']:,} / {r['answered']['duplicates']:,} / {r['answered']['resolved']:,}")),
        row("webhooks that had to be re-sent", lambda r: str(sum(r["sender_retries"].values()))),
        row("incidents opened", lambda r: str(r["incidents"])),
        row("Slack calls", lambda r: ", ".join(f"{m} {n}" for m, n in sorted(r["slack_calls"].items()))),
        row("most chat.postMessage in any 1 s / 60 s (Slack: ~1/s, short bursts)", lambda r: (
            f"{r['max_posts_1s']} / {r['max_posts_60s']}")),
        row("most chat.update in any 60 s (Slack tier 3: ~50/min)", lambda r: str(r["max_updates_60s"])),
        row("last Slack call after the storm ended", lambda r: f"{r['last_slack_call_after_storm_s']:.1f} s"),
        row("`/healthz` p50 / p99 / max ms", lambda r: f"{_ms(r['healthz'])} ({r['healthz']['samples']}, "
            f"{r['healthz']['not_200']} not 200)"),
        row("`/lane status` p50 / p99 / max ms", lambda r: f"{_ms(r['lane_status'])} ({r['lane_status']['samples']}, "
            f"{r['lane_status']['not_200']} not 200)"),
        "",
        "Goals: no alert lost; the outbox within Slack's limits; `/healthz` and `/lane status` under 100 ms p99 throughout.",
        "Resolutions are notified group_interval (5 min) after the last notification, as Alertmanager does, so the",
        "flapping lane's resolved cards come after the storm's minute.",
        "",
    ]  # fmt: skip


def main() -> None:
    OUT.write_text(render(_load("validate"), _load("ingest"), _load("summary"), _load("storm"), _load("races")))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
