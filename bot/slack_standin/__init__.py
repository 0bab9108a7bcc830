"""Local stand-in for the Slack Web API, used by the tests and by ``handoff demo``."""

from bot.slack_standin.server import (
    RESPONSE_URL_METHOD,
    UPLOAD_METHOD,
    RecordedCall,
    SlackStandin,
    check_blocks,
    check_view,
    render_text,
)

__all__ = [
    "RESPONSE_URL_METHOD",
    "UPLOAD_METHOD",
    "RecordedCall",
    "SlackStandin",
    "check_blocks",
    "check_view",
    "render_text",
]
