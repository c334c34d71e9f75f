"""The slack-bolt app: what people send (slash commands, buttons, mentions), thin around
the rest: each listener parses, hands the narrow part of the bot it concerns to
``commands`` or ``interactions``, and answers.

Bolt checks every request's signature and timestamp (a bad or stale one gets 401); a
request whose signature was seen already, by any replica on the store (a replay inside
bolt's five-minute timestamp tolerance), gets 401 too, unless it is Slack retrying, which
is acknowledged and dropped. Each
listener acknowledges at once; anything slow (an approval that calls the action webhook, a
heatmap upload) runs in a lazy listener after the acknowledgement, well inside Slack's 3
seconds. An event Slack retries (``X-Slack-Retry-Num``) whose first delivery was seen is
acknowledged and not processed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.chatops import commands, interactions
from bot.chatops.heatmap import HeatmapError, deliver, draw
from bot.chatops.seen import replay_guard
from bot.chatops.settlement import SETTLEMENT_USAGE
from bot.chatops.settlement import settlement as settlement_trace
from bot.incidents import IncidentError
from bot.runtime import Bot
from bot.slack.blocks import APPROVE, REJECT
from bot.slack.cards import ACK, ESCALATE, POSTMORTEM, RESOLVE, SCHEDULE_DRILL
from bot.tabletop.live import DrillError, LiveDrills
from bot.tabletop.scenario import Scenario

log = logging.getLogger(__name__)
SEEN_EVENTS = 10_000
SEEN_SIGNATURES = 100_000
"""More than Slack sends a workspace's app in five minutes (the timestamp tolerance,
after which bolt refuses a replay as stale by itself)."""


def _header(req: BoltRequest, name: str) -> str | None:
    values = req.headers.get(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class SlackApp:
    app: App
    drills: LiveDrills
    """Drills running in channels; commands and buttons there go to the drill's bot."""
    verifier: SignatureVerifier

    def signed(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """Signed by Slack within five minutes (bolt checks again; this runs before it parses).
        Slack signs UTF-8 text: bytes that are not cannot carry its signature."""
        if timestamp is None or not timestamp.isdigit():
            return False
        try:
            return self.verifier.is_valid(body.decode("utf-8"), timestamp, signature)
        except UnicodeDecodeError:
            return False


def build_slack_app(bot: Bot) -> SlackApp | None:
    """The app when ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` are set; else None."""
    settings = bot.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        return None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,  # Slack being unreachable must not stop the server from starting
    )
    seen, signatures = replay_guard(bot.engine, SEEN_EVENTS), replay_guard(bot.engine, SEEN_SIGNATURES)
    drills = LiveDrills(client, settings.channel)

    @app.middleware  # runs after bolt verified the signature: only genuine requests are remembered
    def refuse_replays(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        signature = _header(req, "x-slack-signature")  # none in Socket Mode, where nothing can be replayed
        if signature is not None and not signatures.first_time(f"sig:{signature}"):
            if _header(req, "x-slack-retry-num"):
                return BoltResponse(status=200, body="")
            log.warning("refused a replayed Slack request (its signature was seen already)")
            return BoltResponse(status=401, body='{"error": "replayed request"}', headers={"content-type": "application/json"})
        return next()

    @app.middleware
    def skip_retried_events(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if event_id and not seen.first_time(f"event:{event_id}") and _header(req, "x-slack-retry-num"):
            return BoltResponse(status=200, body="")
        return next()

    _commands(app, bot, drills)
    _buttons(app, bot, drills)

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], client: WebClient) -> None:
        """@lanekeeper in a channel: the commands, in a thread (a reply to a person, not an incident message)."""
        usages = [commands.LANE_USAGE, commands.INCIDENT_USAGE, commands.SUGGEST_USAGE, commands.TABLETOP_USAGE]
        text = "\n".join([*usages, SETTLEMENT_USAGE])
        client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"], text=text)

    return SlackApp(app, drills, SignatureVerifier(settings.slack_signing_secret.get_secret_value()))


def connect_socket_mode(app: App, app_token: str) -> SocketModeHandler | None:
    """Socket Mode (``SLACK_APP_TOKEN``): the app connects out to Slack instead of taking
    requests. A Slack outage is logged, never fatal: ingestion and cards go on."""
    handler = SocketModeHandler(app, app_token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except Exception as exc:
        log.error("Socket Mode could not connect to Slack: %s", exc)
        return None
    log.info("connected to Slack in Socket Mode")
    return handler


def _answer(ack: Any, reply: commands.Reply) -> None:
    ack(text=reply.message.text, blocks=reply.message.blocks, response_type="in_channel" if reply.in_channel else "ephemeral")


def _commands(app: App, production: Bot, drills: LiveDrills) -> None:
    def target(channel_id: str) -> Bot:
        return drills.bot_for(channel_id) or production

    def lane_ack(ack: Any, command: dict[str, Any]) -> None:
        words = command.get("text", "").split()
        if words and words[0] == "heatmap":
            ack(text="Rendering the heatmap…", response_type="ephemeral")
            return
        bot = target(command["channel_id"])
        if words and words[0] in ("silence", "unsilence"):
            _answer(ack, commands.silence(bot.silences, bot.actions.approvers, bot.policy, words, command["user_id"]))
            return
        _answer(ack, commands.lane(bot.lane_status(), bot.policy, words, bot.clock(), bot.silences.active()))

    def lane_heatmap(command: dict[str, Any], client: WebClient, respond: Any) -> None:
        words = command.get("text", "").split()
        if not words or words[0] != "heatmap":
            return
        bot = target(command["channel_id"])
        try:
            picture = draw(bot.lane_status(), bot.events, words[1:], bot.clock())
        except HeatmapError as exc:
            respond(text=f"{exc}\n{commands.LANE_USAGE}", response_type="ephemeral")
            return
        # Into the thread of the open incident on its lanes, when asked in that incident's channel; a
        # failed upload is answered there too, or to the person who asked.
        card = bot.card_of(picture.lanes)
        thread = card[1] if card is not None and card[0] == command["channel_id"] else None
        deliver(client, picture, channel_id=command["channel_id"], thread_ts=thread, respond=respond)

    app.command("/lane")(ack=lane_ack, lazy=[lane_heatmap])

    @app.command("/incident")
    def incident(ack: Any, command: dict[str, Any]) -> None:
        desk = target(command["channel_id"]).desk
        _answer(ack, commands.incident(desk, command.get("text", "").split(), command["user_id"]))

    def suggest(kind: str) -> Callable[..., None]:
        def listener(ack: Any, command: dict[str, Any]) -> None:
            words = command.get("text", "").split()
            bot = target(command["channel_id"])
            _answer(ack, commands.suggest(bot.actions, bot.post_action, kind, words, command["user_id"]))

        return listener

    for name, kind in commands.SUGGESTING.items():
        app.command(name)(suggest(kind))

    def of_incident(ref: str, folder: Path) -> Scenario:
        """A drill of a resolved incident of production's store (read only)."""
        from bot.tabletop.from_incident import FromIncidentError  # noqa: PLC0415 (loads only for such a drill)
        from bot.tabletop.made import drill_of_incident  # noqa: PLC0415

        try:
            return drill_of_incident(production.engine, production.policy, production.settings.lookback, ref, folder)
        except (IncidentError, FromIncidentError) as exc:
            reason = str(exc)
            raise DrillError(reason[:1].upper() + reason[1:] + ".") from None

    @app.command("/tabletop")
    def tabletop(ack: Any, command: dict[str, Any]) -> None:
        words = command.get("text", "").split()
        channel, name, user = command["channel_id"], command.get("channel_name", ""), command["user_id"]
        _answer(ack, commands.tabletop(drills, words, channel, name, user, of_incident=of_incident))

    @app.command("/settlement")
    def settlement(ack: Any, command: dict[str, Any]) -> None:
        events = target(command["channel_id"]).events
        _answer(ack, commands.Reply(settlement_trace(events, command.get("text", "").split())))


def _buttons(app: App, production: Bot, drills: LiveDrills) -> None:
    def acknowledge(ack: Any) -> None:
        ack()

    def vote(body: dict[str, Any], respond: Any) -> None:
        channel = body.get("channel", {}).get("id", "")  # "" never matches: a click from nowhere counts nowhere
        bot = drills.bot_for(channel) or production
        interactions.vote(bot.actions, bot.post_action, body, channel, respond)

    def incident_button(body: dict[str, Any], respond: Any) -> None:
        bot = drills.bot_for(body.get("channel", {}).get("id", "")) or production
        interactions.incident_button(bot.desk, body, respond)

    def postmortem(body: dict[str, Any], client: WebClient, respond: Any) -> None:
        bot = drills.bot_for(body.get("channel", {}).get("id", "")) or production
        interactions.postmortem_button(bot.drafter(), client, body, respond)

    def schedule(body: dict[str, Any], client: WebClient, respond: Any) -> None:
        interactions.schedule_drill_button(production.desk, client, production.settings.drill_channel, body, respond)

    app.action(POSTMORTEM)(ack=acknowledge, lazy=[postmortem])
    app.action(SCHEDULE_DRILL)(ack=acknowledge, lazy=[schedule])
    app.action(APPROVE)(ack=acknowledge, lazy=[vote])
    app.action(REJECT)(ack=acknowledge, lazy=[vote])
    for button in (ACK, RESOLVE, ESCALATE):
        app.action(button)(ack=acknowledge, lazy=[incident_button])
