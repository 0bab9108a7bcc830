"""Process settings read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["nl", "en"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# URL schemes of DATABASE_URL. The project installs only psycopg 3 and Python's sqlite3, and
# storage.db.normalise_url maps the plain PostgreSQL schemes to the psycopg driver.
SUPPORTED_DATABASE_SCHEMES = frozenset(
    {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg", "postgres"}
)

SLACK_APP_HELP = (
    "Create the Slack app from manifest.yml (https://api.slack.com/apps > Create New App > "
    "From a manifest), install it to your workspace, then copy the Bot User OAuth Token "
    "(xoxb-...) into SLACK_BOT_TOKEN and the Signing Secret into SLACK_SIGNING_SECRET; for "
    "Socket Mode also create an app-level token with connections:write (xapp-...) and put it "
    "in SLACK_APP_TOKEN. To see the bot work without Slack, run: make demo (or .venv/bin/handoff demo)"
)


class Settings(BaseSettings):
    """Everything the processes read from the environment; secrets print masked."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, description="Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page."
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        description="App-level token (xapp-...) with connections:write; when set the bot runs in Socket Mode.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Signing Secret from the app's Basic Information page; verifies Slack's requests."
    )
    slack_api_url: str | None = Field(
        default=None,
        description="Base URL of the Slack Web API, ending in /api/; set it for a Slack-compatible endpoint or a test stand-in.",
    )
    database_url: str = Field(
        default="sqlite:///var/handoff.db",
        description="SQLAlchemy URL: sqlite:///path.db (embedded, upgraded at start) or postgresql://user@host/db.",
    )
    default_language: Language = Field(
        default="nl", description="Language of the bot's messages for users and workspaces without their own setting."
    )
    handoff_config: Path = Field(
        default=Path("handoff.yml"), description="Path of the YAML handoff configuration (teams, reps, criteria, SLAs)."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias="HANDOFF_WEBHOOK_SECRET",
        description="Shared secret of the POST /leads intake webhook (HMAC-SHA256); the endpoint is off without it.",
    )
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, description="Maximum age in seconds of a signed webhook or Slack request timestamp."
    )
    max_request_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body accepted by the HTTP endpoints, in bytes."
    )
    host: str = Field(default="0.0.0.0", description="Address the HTTP server binds to.")
    port: int = Field(default=3000, ge=1, le=65535, description="Port of the HTTP server (Heroku sets PORT).")
    web_workers: int = Field(default=2, ge=1, description="Number of gunicorn worker processes in HTTP mode.")
    log_level: str = Field(default="INFO", description="Python logging level: DEBUG, INFO, WARNING or ERROR.")
    sweep_interval_seconds: int = Field(
        default=30, ge=1, description="How often the clock process sweeps due SLA alerts and the outbox."
    )
    outbox_channel_interval_seconds: float = Field(
        default=1.0, ge=0,
        description="Minimum seconds between two outbox messages to one Slack channel, across all processes; "
                    "Slack allows about one message per second per channel.",
    )
    outbox_give_up_hours: float = Field(
        default=24, gt=0,
        description="Hours after which the outbox stops retrying an undelivered item and marks it failed "
                    "for 'handoff outbox'.",
    )
    personal_data_retention_days: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Days after the last change of a closed lead (rejected, won, lost) before the clock process "
            "erases its personal data; unset keeps the data."
        ),
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"unknown level {value!r}; use one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_prefix(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp-; the bot token (xoxb-) belongs in SLACK_BOT_TOKEN, "
                             "and an empty SLACK_APP_TOKEN runs the bot over HTTP")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str | None) -> str | None:
        if value and not (value.startswith(("http://", "https://")) and value.endswith("/api/")):
            raise ValueError(f"{value!r} is not an http(s) URL ending in /api/, such as https://slack.com/api/")
        return value

    @field_validator("database_url")
    @classmethod
    def _parsable_database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            # The URL may carry a password, so only its scheme is repeated.
            scheme = value.split(":", 1)[0] if ":" in value else "no scheme"
            raise ValueError(f"not a SQLAlchemy URL ({scheme}); use sqlite:///path.db or "
                             "postgresql://user@host/db") from None
        if url.drivername not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(f"unsupported scheme {url.drivername!r}; the bot runs on SQLite or PostgreSQL, "
                             "so use sqlite:///path.db or postgresql://user@host/db")
        return value

    @field_validator("personal_data_retention_days", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # `.env.example` lists the variable with an empty value, which means "keep".
        return None if isinstance(value, str) and not value.strip() else value

    def missing_slack_settings(self) -> list[str]:
        """Return the names of the Slack settings that the bot cannot start without."""
        missing = []
        if self.slack_bot_token is None or not self.slack_bot_token.get_secret_value():
            missing.append("SLACK_BOT_TOKEN")
        if self.slack_signing_secret is None or not self.slack_signing_secret.get_secret_value():
            missing.append("SLACK_SIGNING_SECRET")
        return missing
