"""Settings from the environment and ``.env`` (contract §6).

One typed object read once at start-up. A missing or malformed setting stops the bot with
one line naming the variable and what is expected, never a pydantic traceback: on-call
engineers read it at 3 a.m.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from dotenv.parser import parse_stream
from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")


_NOT_ECHOED = frozenset({"LANEKEEPER_DATABASE_URL"})
"""Values that may carry a password are never repeated in an error (it ends up in logs)."""


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``4h``, ``1h30m``, ``250ms`` (Alertmanager's notation) or plain seconds."""
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return timedelta(seconds=value)
        text = str(value).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return timedelta(seconds=float(text))
        match = _DURATION.fullmatch(text)
        if not text or match is None or not any(match.groups()):
            raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 4h, 1h30m)")
        h, m, s, ms = (int(g) if g else 0 for g in match.groups())
        return timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms)
    except OverflowError:  # past timedelta's 999,999,999 days: a ValueError, as any bad duration
        raise ValueError(f"duration {str(value)[:40]!r} is longer than any clock can count") from None


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _csv(value: object) -> object:
    """Lists are written ``a,b`` in the environment."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_csv)]


class Settings(BaseSettings):
    """Every setting, its variable and its default; `.env.example` documents each."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///lanekeeper.db", validation_alias="LANEKEEPER_DATABASE_URL")
    policy: Path | None = Field(None, validation_alias="LANEKEEPER_POLICY")
    channel: str | None = Field(None, validation_alias="LANEKEEPER_CHANNEL")
    drill_channel: str | None = Field(None, validation_alias="LANEKEEPER_DRILL_CHANNEL")
    """Where a drill of a resolved sev1/sev2 incident is scheduled (the thread's offer)."""
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    model: str | None = Field(None, validation_alias="LANEKEEPER_MODEL")
    llm_deadline: Duration = Field(timedelta(seconds=90), validation_alias="LANEKEEPER_LLM_DEADLINE")
    llm_reasks: int = Field(2, ge=0, le=5, validation_alias="LANEKEEPER_LLM_REASKS")
    lookback: Duration = Field(timedelta(minutes=30), validation_alias="LANEKEEPER_LOOKBACK")
    summary_debounce: Duration = Field(timedelta(seconds=10), validation_alias="LANEKEEPER_SUMMARY_DEBOUNCE")

    action_webhook: str | None = Field(None, validation_alias="LANEKEEPER_ACTION_WEBHOOK")
    action_webhook_secret: SecretStr | None = Field(None, validation_alias="LANEKEEPER_ACTION_WEBHOOK_SECRET")
    action_webhook_timeout: Duration = Field(timedelta(seconds=10), validation_alias="LANEKEEPER_ACTION_WEBHOOK_TIMEOUT")

    lane_label: str = Field("lane", min_length=1, validation_alias="LANEKEEPER_LANE_LABEL")
    status_window: Duration = Field(timedelta(minutes=30), validation_alias="LANEKEEPER_STATUS_WINDOW")
    group_by: CsvList = Field(["lane"], validation_alias="LANEKEEPER_GROUP_BY")
    group_wait: Duration = Field(timedelta(0), validation_alias="LANEKEEPER_GROUP_WAIT")
    group_interval: Duration = Field(timedelta(minutes=5), validation_alias="LANEKEEPER_GROUP_INTERVAL")
    repeat_interval: Duration = Field(timedelta(hours=4), validation_alias="LANEKEEPER_REPEAT_INTERVAL")
    inhibit_source: CsvList = Field(["alertname=LaneDown"], validation_alias="LANEKEEPER_INHIBIT_SOURCE")
    inhibit_equal: CsvList = Field(["lane"], validation_alias="LANEKEEPER_INHIBIT_EQUAL")

    webhook_token: SecretStr | None = Field(None, validation_alias="LANEKEEPER_WEBHOOK_TOKEN")
    pagerduty_secrets: CsvList = Field([], validation_alias="PAGERDUTY_WEBHOOK_SECRETS")
    max_body_bytes: int = Field(64 << 20, gt=0, validation_alias="LANEKEEPER_MAX_BODY_BYTES")
    max_webhook_bytes: int = Field(8 << 20, gt=0, validation_alias="LANEKEEPER_MAX_WEBHOOK_BYTES")
    body_timeout: Duration = Field(timedelta(seconds=10), validation_alias="LANEKEEPER_BODY_TIMEOUT")
    body_min_rate: int = Field(16 << 10, gt=0, validation_alias="LANEKEEPER_BODY_MIN_RATE")
    max_connections: int | None = Field(None, gt=0, validation_alias="LANEKEEPER_MAX_CONNECTIONS")

    nats_url: str | None = Field(None, validation_alias="LANEKEEPER_NATS_URL")
    nats_stream: str = Field("SETTLEMENT", validation_alias="LANEKEEPER_NATS_STREAM")
    nats_subject: str = Field("settlement.events", validation_alias="LANEKEEPER_NATS_SUBJECT")
    nats_durable: str = Field("lanekeeper", validation_alias="LANEKEEPER_NATS_DURABLE")

    @field_validator("inhibit_source")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for item in value:
            name, sep, _ = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"matcher {item!r} is not label=value")
        return value

    @field_validator(
        "status_window", "group_interval", "repeat_interval", "llm_deadline", "action_webhook_timeout", "body_timeout"
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        if self.action_webhook is not None and self.action_webhook_secret is None:
            raise ValueError(
                "LANEKEEPER_ACTION_WEBHOOK_SECRET: required when LANEKEEPER_ACTION_WEBHOOK is set (it signs every call)"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("use sqlite:///PATH or postgresql://USER@HOST/DB")
        try:
            make_url(value)
        except (ArgumentError, ValueError):  # a port that is no number: most often a password with '@' or ':' in it
            raise ValueError("cannot be read as a URL; in a password, write @ as %40, : as %3A, / as %2F and % as %25") from None
        return value


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read the settings, turning the first problem into one line that names the variable."""
    if env_file is not None:
        _check_env_file(Path(env_file))
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings: its message names them
            raise SettingsError(message) from None
        name = str(error["loc"][0])  # the variable: fields are read by their alias
        shown = "" if name in _NOT_ECHOED else f" (got {error.get('input')!r})"
        raise SettingsError(f"{name}: {message}{shown}") from None


def _check_env_file(path: Path) -> None:
    """A ``.env`` python-dotenv would half read (warning on stderr for each line it skips,
    then going on without them): refused whole, naming the file and the line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SettingsError(f"{path}: line {line} is not UTF-8 text; fix or remove it") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise SettingsError(f"{path}: line {binding.original.line} is not NAME=value; fix or remove it")
