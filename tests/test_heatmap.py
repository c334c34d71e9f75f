"""The heatmap's figures, picture and text table: a fixed colour scale read at the pixels the
renderer says it drew, a UTC time axis, failures beside latency, and a table that fits Slack."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeSlack, Reply, running
from helpers import T0, Stream
from PIL import Image
from slack_sdk import WebClient

from bot.chatops.heatmap import Picture, deliver
from bot.chatops.heatmap.figures import Figures, build, seconds
from bot.chatops.heatmap.render import EMPTY, FAILED, INK, LATENCY, RGB, Layout, render, ticks
from bot.chatops.heatmap.table import table

TODAY = T0.date()


def figures(start: datetime, window: timedelta, lanes: tuple[str, ...] = ("l2-arb",)) -> Figures:
    return Figures(list(lanes), start, start + window)


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def colour(image: Image.Image, point: tuple[int, int]) -> RGB:
    found: RGB = image.getpixel(point)  # type: ignore[assignment]
    return found


def drawn(f: Figures, today: date = TODAY) -> tuple[Image.Image, Layout]:
    png, layout = render(f, today)
    image = pixels(png)
    assert image.size == layout.size
    return image, layout


def test_the_same_latency_has_the_same_colour_in_pictures_of_different_windows() -> None:
    short, long = figures(T0, timedelta(minutes=30)), figures(T0, timedelta(hours=6))
    short.latency.update({("l2-arb", "L2", 3): [45.0], ("l2-arb", "L2", 4): [0.5], ("l2-arb", "L1", 9): [7200.0]})
    long.latency.update({("l2-arb", "L2", 40): [45.0], ("l2-arb", "L1", 41): [1200.0]})  # another range of values
    (a, at_a), (b, at_b) = drawn(short), drawn(long)
    forty_five = colour(a, at_a.cell("l2-arb", "L2", 3))
    assert forty_five == colour(b, at_b.cell("l2-arb", "L2", 40)) == LATENCY.colour(45)
    assert forty_five == colour(a, at_a.legend[("latency (median)", "30s-1m")])  # the legend says what it means
    assert colour(a, at_a.cell("l2-arb", "L2", 4)) == colour(a, at_a.legend[("latency (median)", "<1s")])
    assert colour(a, at_a.cell("l2-arb", "L1", 9)) == colour(b, at_b.legend[("latency (median)", "30m+")])
    assert colour(b, at_b.cell("l2-arb", "L1", 41)) == colour(b, at_b.legend[("latency (median)", "15-30m")])
    assert colour(a, at_a.cell("l2-arb", "L2", 5)) == EMPTY == colour(a, at_a.legend[("latency (median)", "none")])


def test_the_legend_shows_every_step_of_both_fixed_scales() -> None:
    image, layout = drawn(figures(T0, timedelta(hours=1)))
    for scale in (LATENCY, FAILED):
        for step in scale.steps:
            assert colour(image, layout.legend[(scale.name, step.label)]) == step.colour, step.label
    assert [s.label for s in LATENCY.steps] == ["<1s", "1-10s", "10-30s", "30s-1m", "1-5m", "5-15m", "15-30m", "30m+"]
    assert len({s.colour for s in LATENCY.steps} | {s.colour for s in FAILED.steps} | {EMPTY}) == 13


def test_failures_are_drawn_in_a_row_of_their_own_beside_each_lanes_hops() -> None:
    f = figures(T0, timedelta(hours=1), ("l1-eth", "l2-arb"))
    f.failed.update({("l2-arb", 0): 1, ("l2-arb", 1): 3, ("l2-arb", 2): 25})
    f.latency[("l2-arb", "L2", 0)] = [12.0]
    image, layout = drawn(f)
    assert [colour(image, layout.cell("l2-arb", "failed", c)) for c in range(4)] == [
        FAILED.colour(1),
        FAILED.colour(3),
        FAILED.colour(25),
        EMPTY,
    ]
    assert colour(image, layout.cell("l2-arb", "L2", 0)) == LATENCY.colour(12)
    assert colour(image, layout.cell("l1-eth", "failed", 0)) == EMPTY  # the other lane's row is its own
    rows = sorted({layout.cell(lane, row, 0)[1] for lane in ("l1-eth", "l2-arb") for row in ("L2", "L1", "failed")})
    assert len(rows) == 6  # two lanes, three rows each


def test_the_time_axis_has_round_utc_ticks_drawn_under_the_cells() -> None:
    start = datetime(2026, 3, 2, 13, 35, tzinfo=UTC)
    image, layout = drawn(figures(start, timedelta(hours=1)), today=start.date())
    assert [t.label for t in layout.ticks] == ["13:40", "13:50", "14:00", "14:10", "14:20", "14:30"]
    assert all(t.day is None for t in layout.ticks)  # today: no date
    assert layout.axis_y > max(layout.cell("l2-arb", row, 0)[1] for row in ("L2", "L1", "failed"))
    for tick in layout.ticks:
        assert colour(image, (tick.x, layout.axis_y + 2)) == INK  # the tick mark
    assert layout.ticks[0].x < layout.ticks[-1].x < layout.size[0]


def test_the_axis_dates_a_window_that_crosses_midnight_or_is_not_today() -> None:
    late = datetime(2026, 3, 2, 23, 20, tzinfo=UTC)
    crossing = ticks(late, late + timedelta(hours=2), dated=True)
    assert [(t.label, t.day) for t in crossing][:3] == [("23:30", "2026-03-02"), ("23:45", None), ("00:00", "2026-03-03")]
    _, layout = drawn(figures(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), timedelta(minutes=30)), today=date(2026, 3, 2))
    assert [t.day for t in layout.ticks][:2] == ["2026-03-01", None]
    assert [t.label for t in ticks(T0, T0 + timedelta(minutes=1), dated=False)][:2] == ["14:00:00", "14:00:10"]


def test_latency_is_measured_per_hop_in_the_bucket_where_the_hop_ended_and_failures_counted() -> None:
    stream = Stream()
    stream.add("settlement.submitted", 0, settlement_id="s1")
    stream.add("settlement.confirmed", 10, settlement_id="s1")
    stream.add("settlement.finalized", 130, settlement_id="s1")
    stream.add("settlement.failed", 70, settlement_id="s2")
    stream.add("settlement.failed", 75, settlement_id="s3")
    f = build(stream.events(), ["l2-arb"], T0, T0 + timedelta(hours=1))  # one-minute buckets
    assert f.latency == {("l2-arb", "L2", 0): [10.0], ("l2-arb", "L1", 2): [120.0]}
    assert f.failed == {("l2-arb", 1): 2}


def test_the_table_gives_median_p99_and_failures_per_span_of_the_window() -> None:
    f = figures(T0, timedelta(hours=1))
    f.latency[("l2-arb", "L2", 0)] = [float(s) for s in range(1, 101)]
    f.latency[("l2-arb", "L1", 59)] = [600.0]
    f.failed[("l2-arb", 12)] = 4
    text = table(f, TODAY, lambda t: True)
    lines = text.splitlines()
    assert lines[0] == "Settlement latency and failures, 14:00-15:00 UTC"
    assert lines[2].split() == [
        "from",
        "14:00",
        "from",
        "14:10",
        "from",
        "14:20",
        "from",
        "14:30",
        "from",
        "14:40",
        "from",
        "14:50",
    ]
    assert lines[3].split() == ["l2-arb", "L2", "50s/1.6m", "-", "-", "-", "-", "-"]
    assert lines[4].split() == ["l2-arb", "L1", "-", "-", "-", "-", "-", "10m/10m"]
    assert lines[5].split() == ["l2-arb", "failed", "0", "4", "0", "0", "0", "0"]


def test_a_table_of_many_lanes_uses_fewer_spans_then_leaves_lanes_out_to_fit() -> None:
    many = figures(T0, timedelta(hours=1), tuple(f"l2-lane{i:03d}" for i in range(80)))
    short = table(many, TODAY, lambda t: len(t) <= 2800)
    assert len(short) <= 2800
    assert short.splitlines()[-1].endswith("more lane(s) left out: ask for one with /lane heatmap LANE")
    assert len(short.splitlines()[2].split()) == 2  # one span: "from 14:00"
    few = figures(T0, timedelta(hours=1), tuple(f"l2-lane{i:03d}" for i in range(12)))
    assert len(table(few, TODAY, lambda t: len(t) <= 2800).splitlines()[2].split()) < 12  # fewer than six spans


def test_durations_read_as_people_say_them() -> None:
    assert [seconds(s) for s in (0.42, 9.96, 42, 120, 270, 1560, 4320)] == ["0.4s", "10s", "42s", "2m", "4.5m", "26m", "1.2h"]


# --- delivering it -----------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as slack:
        yield slack


PICTURE = Picture(b"\x89PNG fake", "Settlement latency and failures, l2-arb", "l2-arb L2  12s/40s\n<!channel>", ("l2-arb",))


def test_an_upload_goes_into_the_thread_it_is_given(fake: FakeSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=fake.url)
    deliver(client, PICTURE, channel_id="C0INCIDENT", thread_ts="1700000000.000100", respond=pytest.fail)
    [complete] = fake.of("files.completeUploadExternal")
    assert (complete.args["channel_id"], complete.args["thread_ts"]) == ("C0INCIDENT", "1700000000.000100")
    assert list(fake.uploads.values()) == [PICTURE.png]


@pytest.mark.parametrize(
    ("method", "reply", "why"),
    [
        ("files.getUploadURLExternal", Reply(body={"ok": False, "error": "not_allowed"}), "Slack answered not_allowed"),
        ("upload", Reply(status=500, body=b"upstream broke"), "the upload failed (HTTPError)"),
    ],
    ids=["slack-refuses", "upload-url-fails"],
)
def test_a_failed_upload_is_answered_in_the_thread_with_the_figures_as_text(
    fake: FakeSlack, method: str, reply: Reply, why: str
) -> None:
    fake.failures[method] = [reply]
    client = WebClient(token="xoxb-test", base_url=fake.url)
    deliver(client, PICTURE, channel_id="C0INCIDENT", thread_ts="1700000000.000100", respond=pytest.fail)
    [answer] = fake.of("chat.postMessage")
    assert answer.args["thread_ts"] == "1700000000.000100"
    [block] = answer.args["blocks"]
    assert block["text"]["text"] == (
        f"The heatmap could not be posted ({why}); its figures:\n```l2-arb L2  12s/40s\n&lt;!channel&gt;```"
    )
    assert "<!channel>" not in answer.args["text"]
    assert not fake.of("files.completeUploadExternal")


def test_without_a_thread_a_failed_upload_is_answered_to_the_person_who_asked(fake: FakeSlack) -> None:
    fake.failures["files.getUploadURLExternal"] = [Reply(body={"ok": False, "error": "not_in_channel"})]
    said: list[dict[str, Any]] = []
    deliver(
        WebClient(token="xoxb-test", base_url=fake.url),
        PICTURE,
        channel_id="C0X",
        thread_ts=None,
        respond=lambda **kw: said.append(kw),
    )
    [answer] = said
    assert answer["response_type"] == "ephemeral"
    assert "Slack answered not_in_channel" in answer["blocks"][0]["text"]["text"]
    assert not fake.of("chat.postMessage")
