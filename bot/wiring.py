"""Building the bot's parts from its settings, shared by the server and its summary process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings, SettingsError
from prompts import proposal_schema
from validators.policy import Policy, PolicyError, parse_policy

if TYPE_CHECKING:
    from bot.actions import Approvers, Executor
    from bot.slack.poster import SlackPoster
    from bot.summarize.llm import LlmClient

DEFAULT_POLICY = Path(__file__).with_name("defaults") / "policy.yaml"


def load_policy(path: Path | None) -> Policy:
    """The policy file, or the embedded default; a bad file stops start-up with one line."""
    source = path or DEFAULT_POLICY
    try:
        return parse_policy(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"LANEKEEPER_POLICY: cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"LANEKEEPER_POLICY: {source}: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise SettingsError(f"LANEKEEPER_POLICY: {source}: nested too deep to be a policy") from None
    except PolicyError as exc:
        raise SettingsError(f"LANEKEEPER_POLICY: {source}: {exc}") from None


def open_for_reading() -> tuple[Settings, Policy, Engine]:
    """The settings, the policy and the store as a read-only command opens them: an existing
    store only (never a new one), not migrated. ``SettingsError`` or ``StoreError`` saying why."""
    from bot.config import load_settings  # noqa: PLC0415
    from bot.store.engine import open_existing  # noqa: PLC0415

    settings = load_settings()
    return settings, load_policy(settings.policy), open_existing(settings.database_url)


def llm_configured(settings: Settings) -> bool:
    """A model is named, and a key or a server (a local one may need no key)."""
    return settings.model is not None and (settings.openai_api_key is not None or settings.openai_base_url is not None)


def make_llm(settings: Settings) -> LlmClient | None:
    """The LLM client when one is configured; else None, and the bot runs facts-only."""
    from bot.summarize.llm import LlmClient  # noqa: PLC0415 (openai loads only where an LLM is used)

    if not llm_configured(settings) or settings.model is None:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    return LlmClient(key, settings.openai_base_url, settings.model, proposal_schema(), deadline=settings.llm_deadline)


def make_poster(settings: Settings, engine: Engine, clock: Clock) -> SlackPoster | None:
    from bot.slack.poster import SlackPoster  # noqa: PLC0415 (slack_sdk loads only where Slack is used)

    if settings.slack_bot_token is None or settings.channel is None:
        return None
    return SlackPoster.connect(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, settings.channel, engine, clock
    )


def make_executor(settings: Settings) -> Executor:
    """The action webhook when configured (signed, one call per action), else the runbook."""
    from bot.actions import RUNBOOK, Webhook  # noqa: PLC0415 (httpx loads only where actions are used)

    if settings.action_webhook is None or settings.action_webhook_secret is None:
        return RUNBOOK
    secret = settings.action_webhook_secret.get_secret_value()
    return Webhook(settings.action_webhook, secret, settings.action_webhook_timeout.total_seconds())


def make_approvers(settings: Settings, policy: Policy) -> Approvers:
    """The policy's approvers; user groups are listed through Slack when it is configured."""
    from bot.actions import Approvers, SlackDirectory  # noqa: PLC0415 (slack_sdk loads only where Slack is used)

    directory = None
    if settings.slack_bot_token is not None:
        from slack_sdk import WebClient  # noqa: PLC0415

        directory = SlackDirectory(WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url))
    return Approvers(policy.approvers, directory)
