"""``lanekeeper replay PATH``: the whole pipeline on a recorded or simulated scenario.

PATH is a tabletop scenario (a bundled name or a YAML file: its world is simulated) or a
recorded scenario directory (contract §6: ``events.ndjson`` and any of
``alertmanager.json``, ``grafana.json``, ``pagerduty.json``, each one payload or a JSON
array of them, delivered at their alerts' start times among the events). It runs on the
embedded defaults — SQLite in a temporary place, no Slack — ingests, opens incidents,
posts facts cards, summarizes (with the LLM in the environment; else a recording beside the
scenario, ``NAME.llm.json`` or ``llm.json``; else facts-only), validates and suggests
actions, then prints the channel as a person would read it.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.alerts import SENDERS, Alert, LaneRule, PayloadError
from bot.config import load_settings
from bot.replay.recorded_llm import RecordedLlm
from bot.tabletop.runner import Control, Drill, Recorded
from bot.tabletop.scenario import Lane, Scenario, ScenarioError, bundled, load
from bot.wiring import llm_configured
from validators.ndjson import parse_events


class ReplayError(ValueError):
    """A scenario that cannot be replayed; the message says which and why."""


@dataclass
class ReplayResult:
    calls: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    events: int
    seconds: float


def _recorded_world(folder: Path) -> tuple[Scenario, list[bytes], list[Recorded]]:
    events_file = folder / "events.ndjson"
    if not events_file.is_file():
        raise ReplayError(f"{folder}: a recorded scenario holds events.ndjson")
    data = events_file.read_bytes()
    events, stats = parse_events([data])
    if not events:
        raise ReplayError(f"{events_file}: no valid event ({len(stats.rejected)} lines rejected)")
    lines = sorted((line for line in data.splitlines(keepends=True) if line.strip()), key=_ts_of)
    start = min(e.ts for e in events).replace(second=0, microsecond=0)
    end = max(e.ts for e in events)
    deliveries: list[Recorded] = []
    for sender in SENDERS.values():
        path = folder / f"{sender.name}.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        for i, payload in enumerate(doc if isinstance(doc, list) else [doc]):
            try:
                alerts: list[Alert] = sender.parse(json.dumps(payload).encode(), LaneRule())
            except PayloadError as exc:
                raise ReplayError(f"{path}: payload {i}: {exc.reason}") from None
            at = min(a.starts_at for a in alerts) - start if alerts else timedelta(0)
            deliveries.append(Recorded(max(at, timedelta(0)), alerts))
    lanes = {e.lane: Lane(chain="recorded") for e in events}
    name = re.sub(r"[^a-z0-9-]+", "-", folder.resolve().name.lower()).strip("-") or "recorded"
    duration = max(end - start + timedelta(minutes=1), *(d.at + timedelta(minutes=1) for d in deliveries))
    scenario = Scenario(
        name=name, title=f"recorded scenario {folder.name}", description=str(folder), start=start, duration=duration, lanes=lanes
    )
    return scenario, lines, deliveries


def _ts_of(line: bytes) -> str:
    match = re.search(rb'"ts"\s*:\s*"([^"]+)"', line)
    return match.group(1).decode() if match else ""


def _recording_for(path: Path, scenario: Scenario) -> Path | None:
    for candidate in (path / "llm.json", path.with_suffix(".llm.json"), path.parent / f"{scenario.name}.llm.json"):
        if candidate.is_file():
            return candidate
    return None


def replay(
    path: str,
    *,
    speed: float | None = None,
    transcript: Path | None = None,
    progress: TextIO | None = None,
    recording_only: bool = False,
) -> ReplayResult:
    """``recording_only``: use the recording beside the scenario even if an LLM is configured (the demo)."""
    progress = progress or sys.stderr
    source = Path(path)
    lines: list[bytes] | None = None
    deliveries: list[Recorded] = []
    if source.is_dir():
        scenario, lines, deliveries = _recorded_world(source)
    else:
        try:
            scenario = load(path)
        except ScenarioError as exc:
            raise ReplayError(str(exc)) from None
        if path in bundled():
            source = Path(__file__).resolve().parent.parent / "tabletop" / "scenarios" / f"{path}.yaml"
    started = time.perf_counter()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="lanekeeper-replay-") as work:
        llm = _llm(source, scenario, stack, progress, recording_only=recording_only)
        events = (lambda: _timed(lines)) if lines is not None else None
        drill = Drill(scenario, Path(work), control=Control(speed), exercise=False, llm=llm, events=events, recorded=deliveries)
        drill.progress = lambda t, n: _progress(progress, t, scenario.duration, n)
        log = drill.run()
    if progress.isatty():
        print(file=progress)
    result = ReplayResult(log.transcript, log.attempts, drill.events_ingested, time.perf_counter() - started)
    if transcript is not None:
        transcript.write_text(json.dumps([{"method": c["method"], "args": c["args"]} for c in result.calls], indent=2) + "\n")
    return result


def _llm(source: Path, scenario: Scenario, stack: ExitStack, progress: TextIO, *, recording_only: bool) -> dict[str, Any] | None:
    settings = load_settings()
    if llm_configured(settings) and not recording_only:
        print(f"LLM: {settings.model} at {settings.openai_base_url or 'OpenAI'}", file=progress)
        return {k: getattr(settings, k) for k in ("openai_api_key", "openai_base_url", "model", "llm_reasks")}
    recording = _recording_for(source, scenario)
    if recording is None:
        print("LLM: none configured and no recording beside the scenario: facts-only summaries", file=progress)
        return None
    print(f"LLM: the recording {recording.name} (no key needed), through the real openai client", file=progress)
    return stack.enter_context(RecordedLlm(recording)).settings()


def _timed(lines: list[bytes]) -> Iterator[tuple[datetime, bytes]]:
    for line in lines:
        yield datetime.fromisoformat(_ts_of(line).replace("Z", "+00:00")), line


def _progress(out: TextIO, at: timedelta, duration: timedelta, events: int) -> None:
    """A line every tenth of the run (on a terminal, one line kept up to date)."""
    minutes, total = int(at.total_seconds()) // 60, int(duration.total_seconds()) // 60
    tty = out.isatty()
    if not tty and minutes % max(1, total // 10):
        return
    line = f"replaying: T+{minutes:02d}:00 of {total} min, {events:,} events"
    print(f"\r{line}" if tty else line, end="" if tty else "\n", file=out, flush=True)


# --- the channel, as a person reads it --------------------------------------------------------


def _plain(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_text(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "section":
        return _plain(block["text"]["text"]).splitlines()
    if kind == "context":
        return ["  " + _plain(" ".join(e.get("text", "") for e in block["elements"]))]
    if kind == "actions":
        return ["  " + "  ".join(f"[ {e['text']['text']} ]" for e in block["elements"])]
    if kind == "input":
        return [f"  ( {block['label']['text']} )"]
    return []


def print_channel(calls: list[dict[str, Any]], out: TextIO | None = None) -> None:
    """In the order it happened: top-level messages as the channel shows them, replies indented
    under the incident's thread (marked when also sent to the channel), edits as edits."""
    out = out or sys.stdout  # looked up now: a caller may have replaced it
    replies: set[str] = set()
    for call in calls:
        thread = call["args"].get("thread_ts")
        if call["method"] == "chat.postMessage" and thread:
            replies.add(call["ts"])
        reply = call["ts"] in replies
        indent = "      " if reply else ""
        when = call.get("at", "")[11:19]
        if call["method"] == "chat.update":
            what = " (edited a reply in the thread)" if reply else " (edited the message above)"
        elif reply:
            what = " in the thread" + (", also sent to the channel" if call["args"].get("reply_broadcast") else "")
        else:
            what = ""
        print(f"\n{indent}[{when} UTC] lanekeeper{what}", file=out)
        for block in call["args"]["blocks"]:
            for line in _block_text(block):
                print(f"{indent}  {line}", file=out)
