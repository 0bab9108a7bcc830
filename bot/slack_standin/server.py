"""Local stand-in for the Slack Web API, for tests and the ``handoff demo`` command.

``SlackStandin`` runs a threaded HTTP server on 127.0.0.1 that speaks the Web API wire
format, so ``slack_sdk.WebClient(token="xoxb-...", base_url=standin.base_url)`` works
against it unchanged. It keeps the state a workspace would (messages, DMs, views, files),
checks Block Kit payloads against Slack's documented limits, records every call, and can
inject failures (HTTP 429 with ``Retry-After``, HTTP 5xx, ``ok: false`` errors) and latency.

Every public method is thread-safe: one re-entrant lock guards all state, and
``wait_for`` waits on a condition variable tied to that lock.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "RESPONSE_URL_METHOD",
    "UPLOAD_METHOD",
    "RecordedCall",
    "SlackStandin",
    "check_blocks",
    "check_view",
    "render_text",
]

log = logging.getLogger(__name__)

# Name under which uploads to the URL from files.getUploadURLExternal are recorded.
# It is not a Web API method: on Slack that URL is a pre-signed files host URL.
UPLOAD_METHOD = "upload"
# Name under which messages posted to an interaction's response_url (root_url + "response/<any>")
# are recorded. Slack responds to such a post with the plain text "ok".
RESPONSE_URL_METHOD = "response_url"

# Block Kit and message limits from Slack's Block Kit and chat.postMessage reference.
MESSAGE_MAX_BLOCKS = 50
SURFACE_MAX_BLOCKS = 100  # modals and Home tabs
MESSAGE_TEXT_MAX = 40_000
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ID_MAX = 255  # action_id, block_id, callback_id, external_id
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
PLACEHOLDER_MAX = 150
CHOICE_OPTIONS_MAX = 10  # checkboxes and radio_buttons
OVERFLOW_OPTIONS_MAX = 5
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
VIEW_TITLE_MAX = 24  # also submit and close
PRIVATE_METADATA_MAX = 3000
LABEL_MAX = 2000  # input label and hint, image alt_text and title
MARKDOWN_BLOCK_TEXT_MAX = 12_000

# Slack accepts a trigger_id once and only within 3 seconds of the interaction.
TRIGGER_ID_LIFETIME = 3.0

# Parameters that clients send as JSON-encoded strings in form bodies.
_JSON_PARAMS = ("blocks", "attachments", "view", "files", "metadata")

_USER_ID_RE = re.compile(r"[UW][A-Z0-9]+")


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in received, with the response it sent.

    ``params`` merges query and body parameters. ``blocks``, ``view``, ``attachments``,
    ``files`` and ``metadata`` are parsed from JSON when they arrived as strings. The
    token is kept apart in ``token``. ``response`` is the JSON body sent back, and
    ``status`` the HTTP status. Treat both dicts as read-only.
    """

    method: str
    params: dict[str, Any]
    at: float  # time.time() when the stand-in handled the request
    response: dict[str, Any]
    status: int = 200
    token: str | None = None
    # time.time() when the whole request had arrived, before the stand-in parsed and checked it.
    received_at: float = 0.0


class _ApiError(Exception):
    """A Web API error response: ``{"ok": false, "error": error, **extra}``."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _missing_argument(name: str) -> _ApiError:
    return _ApiError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


@dataclass
class _Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int
    remaining: int
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _StoredMessage:
    versions: list[dict[str, Any]]
    deleted: bool = False

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]


@dataclass
class _PendingFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    content: bytes | None = None


# --------------------------------------------------------------------------------------
# Block Kit checks
# --------------------------------------------------------------------------------------

_TEXT_INPUT_TYPES = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "file_input",
    }
)
_STATIC_SELECT_TYPES = frozenset({"static_select", "multi_static_select"})
_DYNAMIC_SELECT_TYPES = frozenset(
    {
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
    }
)
_CHOICE_TYPES = frozenset({"checkboxes", "radio_buttons"})
_KNOWN_BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "divider",
        "context",
        "actions",
        "image",
        "input",
        "rich_text",
        "file",
        "video",
        "markdown",
    }
)


class _BlockKitChecker:
    """Collect Block Kit violations as Slack-style messages ending in a JSON pointer."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{path}]")

    def string(self, value: Any, path: str, *, max_length: int, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(path, "missing required field")
            return
        if not isinstance(value, str):
            self.fail(path, "must provide a string")
        elif len(value) > max_length:
            self.fail(path, f"must be less than {max_length + 1} characters")

    def identifier(self, value: Any, path: str, seen: set[str], kind: str) -> None:
        """Check an action_id or block_id for length and uniqueness within ``seen``."""
        if value is None:
            return
        self.string(value, path, max_length=ID_MAX)
        if isinstance(value, str):
            if value in seen:
                self.fail(path, f"duplicate {kind} {value!r}")
            seen.add(value)

    def text_object(
        self,
        value: Any,
        path: str,
        *,
        max_length: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if value is None:
            if required:
                self.fail(path, "missing required field")
            return
        if not isinstance(value, dict):
            self.fail(path, "must provide an object")
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if value.get("type") not in allowed:
            self.fail(f"{path}/type", f"must be one of {', '.join(allowed)}")
        text = value.get("text")
        if not isinstance(text, str):
            self.fail(f"{path}/text", "must provide a string")
        elif len(text) < 1:
            self.fail(f"{path}/text", "must be more than 0 characters")
        elif len(text) > max_length:
            self.fail(f"{path}/text", f"must be less than {max_length + 1} characters")

    def option(self, option: Any, path: str, *, allow_mrkdwn: bool, allow_url: bool) -> None:
        if not isinstance(option, dict):
            self.fail(path, "must provide an object")
            return
        self.text_object(
            option.get("text"),
            f"{path}/text",
            max_length=OPTION_TEXT_MAX,
            plain_only=not allow_mrkdwn,
        )
        self.string(
            option.get("value"), f"{path}/value", max_length=OPTION_VALUE_MAX, required=True
        )
        self.text_object(
            option.get("description"),
            f"{path}/description",
            max_length=OPTION_TEXT_MAX,
            plain_only=not allow_mrkdwn,
            required=False,
        )
        if allow_url:
            self.string(option.get("url"), f"{path}/url", max_length=URL_MAX)

    def options(
        self,
        options: Any,
        path: str,
        *,
        max_items: int,
        allow_mrkdwn: bool = False,
        allow_url: bool = False,
    ) -> None:
        if not isinstance(options, list):
            self.fail(path, "must provide an array")
            return
        if not options:
            self.fail(path, "must provide at least 1 item")
        if len(options) > max_items:
            self.fail(path, f"must be no more than {max_items} items")
        for index, option in enumerate(options):
            self.option(option, f"{path}/{index}", allow_mrkdwn=allow_mrkdwn, allow_url=allow_url)

    def element(self, element: Any, path: str, action_ids: set[str]) -> None:
        """Check one interactive or image element. ``action_ids`` spans the containing block."""
        if not isinstance(element, dict):
            self.fail(path, "must provide an object")
            return
        element_type = element.get("type")
        if element_type == "image":
            self.image(element, path)
            return
        self.identifier(element.get("action_id"), f"{path}/action_id", action_ids, "action_id")
        self.text_object(
            element.get("placeholder"),
            f"{path}/placeholder",
            max_length=PLACEHOLDER_MAX,
            plain_only=True,
            required=False,
        )

        if element_type in ("button", "workflow_button"):
            self.text_object(
                element.get("text"), f"{path}/text", max_length=BUTTON_TEXT_MAX, plain_only=True
            )
            self.string(element.get("value"), f"{path}/value", max_length=BUTTON_VALUE_MAX)
            self.string(element.get("url"), f"{path}/url", max_length=URL_MAX)
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail(f"{path}/style", "must be one of primary, danger")
        elif element_type in _STATIC_SELECT_TYPES:
            self.static_select(element, path)
        elif element_type == "overflow":
            self.options(
                element.get("options"),
                f"{path}/options",
                max_items=OVERFLOW_OPTIONS_MAX,
                allow_url=True,
            )
        elif element_type in _CHOICE_TYPES:
            self.options(
                element.get("options"),
                f"{path}/options",
                max_items=CHOICE_OPTIONS_MAX,
                allow_mrkdwn=True,
            )
        elif element_type in _DYNAMIC_SELECT_TYPES or element_type in _TEXT_INPUT_TYPES:
            pass
        elif element_type is None:
            self.fail(f"{path}/type", "missing required field")
        else:
            self.fail(f"{path}/type", f"unsupported element type {element_type!r}")

    def static_select(self, element: dict[str, Any], path: str) -> None:
        options = element.get("options")
        groups = element.get("option_groups")
        if (options is None) == (groups is None):
            self.fail(path, "must provide exactly one of options, option_groups")
            return
        if options is not None:
            self.options(options, f"{path}/options", max_items=SELECT_OPTIONS_MAX)
            return
        if not isinstance(groups, list):
            self.fail(f"{path}/option_groups", "must provide an array")
            return
        if len(groups) > SELECT_OPTIONS_MAX:
            self.fail(f"{path}/option_groups", f"must be no more than {SELECT_OPTIONS_MAX} items")
        for index, group in enumerate(groups):
            group_path = f"{path}/option_groups/{index}"
            if not isinstance(group, dict):
                self.fail(group_path, "must provide an object")
                continue
            self.text_object(
                group.get("label"),
                f"{group_path}/label",
                max_length=OPTION_TEXT_MAX,
                plain_only=True,
            )
            self.options(
                group.get("options"), f"{group_path}/options", max_items=SELECT_OPTIONS_MAX
            )

    def image(self, image: dict[str, Any], path: str) -> None:
        if image.get("image_url") is None and image.get("slack_file") is None:
            self.fail(f"{path}/image_url", "must provide one of image_url, slack_file")
        self.string(image.get("image_url"), f"{path}/image_url", max_length=URL_MAX)
        self.string(image.get("alt_text"), f"{path}/alt_text", max_length=LABEL_MAX, required=True)

    def block(self, block: Any, path: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.fail(path, "must provide an object")
            return
        self.identifier(block.get("block_id"), f"{path}/block_id", block_ids, "block_id")
        block_type = block.get("type")
        action_ids: set[str] = set()

        if block_type == "section":
            self.section(block, path, action_ids)
        elif block_type == "header":
            self.text_object(
                block.get("text"), f"{path}/text", max_length=HEADER_TEXT_MAX, plain_only=True
            )
        elif block_type == "context":
            self.context(block, path)
        elif block_type == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail(f"{path}/elements", "must provide a non-empty array")
                return
            if len(elements) > ACTIONS_ELEMENTS_MAX:
                self.fail(f"{path}/elements", f"must be no more than {ACTIONS_ELEMENTS_MAX} items")
            for index, element in enumerate(elements):
                self.element(element, f"{path}/elements/{index}", action_ids)
        elif block_type == "image":
            self.image(block, path)
            self.text_object(
                block.get("title"),
                f"{path}/title",
                max_length=LABEL_MAX,
                plain_only=True,
                required=False,
            )
        elif block_type == "input":
            self.text_object(
                block.get("label"), f"{path}/label", max_length=LABEL_MAX, plain_only=True
            )
            self.text_object(
                block.get("hint"),
                f"{path}/hint",
                max_length=LABEL_MAX,
                plain_only=True,
                required=False,
            )
            if block.get("element") is None:
                self.fail(f"{path}/element", "missing required field")
            else:
                self.element(block["element"], f"{path}/element", action_ids)
        elif block_type == "markdown":
            self.string(
                block.get("text"), f"{path}/text", max_length=MARKDOWN_BLOCK_TEXT_MAX, required=True
            )
        elif block_type == "rich_text":
            if not isinstance(block.get("elements"), list):
                self.fail(f"{path}/elements", "must provide an array")
        elif block_type == "file":
            self.string(
                block.get("external_id"), f"{path}/external_id", max_length=ID_MAX, required=True
            )
        elif block_type in ("divider", "video"):
            pass
        elif block_type is None:
            self.fail(f"{path}/type", "missing required field")
        else:
            self.fail(f"{path}/type", f"unsupported block type {block_type!r}")

    def section(self, block: dict[str, Any], path: str, action_ids: set[str]) -> None:
        fields = block.get("fields")
        if block.get("text") is None and fields is None:
            self.fail(path, "must provide one of text, fields")
        self.text_object(
            block.get("text"), f"{path}/text", max_length=SECTION_TEXT_MAX, required=False
        )
        if fields is not None:
            if not isinstance(fields, list):
                self.fail(f"{path}/fields", "must provide an array")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    self.fail(f"{path}/fields", f"must be no more than {SECTION_FIELDS_MAX} items")
                for index, item in enumerate(fields):
                    self.text_object(
                        item, f"{path}/fields/{index}", max_length=SECTION_FIELD_TEXT_MAX
                    )
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{path}/accessory", action_ids)

    def context(self, block: dict[str, Any], path: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{path}/elements", "must provide a non-empty array")
            return
        if len(elements) > CONTEXT_ELEMENTS_MAX:
            self.fail(f"{path}/elements", f"must be no more than {CONTEXT_ELEMENTS_MAX} items")
        for index, element in enumerate(elements):
            element_path = f"{path}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, element_path)
            else:
                # NOTE: the 3000-character section limit is assumed for context text, unverified.
                self.text_object(element, element_path, max_length=SECTION_TEXT_MAX)

    def blocks(self, blocks: Any, path: str, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.fail(path, "must provide an array")
            return
        if len(blocks) > max_blocks:
            self.fail(path, f"must be no more than {max_blocks} items")
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            self.block(block, f"{path}/{index}", block_ids)


def check_blocks(
    blocks: Any, *, max_blocks: int = MESSAGE_MAX_BLOCKS, path: str = "/blocks"
) -> list[str]:
    """Check a list of blocks against Slack's limits and return the violations.

    Each entry reads like Slack's own, e.g. ``"must be less than 3001 characters
    [json-pointer:/blocks/0/text/text]"``. An empty list means the blocks passed.
    The cumulative text limit that Slack reports as ``msg_blocks_too_long`` is not checked.
    """
    checker = _BlockKitChecker()
    checker.blocks(blocks, path, max_blocks)
    return checker.errors


def check_view(view: Any, *, path: str = "/view") -> list[str]:
    """Check a modal or Home tab view against Slack's limits and return the violations."""
    checker = _BlockKitChecker()
    if not isinstance(view, dict):
        checker.fail(path, "must provide an object")
        return checker.errors

    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        checker.fail(f"{path}/type", "must be one of modal, home")
    if view_type == "modal":
        checker.text_object(
            view.get("title"), f"{path}/title", max_length=VIEW_TITLE_MAX, plain_only=True
        )
        for button in ("submit", "close"):
            checker.text_object(
                view.get(button),
                f"{path}/{button}",
                max_length=VIEW_TITLE_MAX,
                plain_only=True,
                required=False,
            )
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(block, dict) and block.get("type") == "input" for block in blocks
        )
        if has_input and view.get("submit") is None:
            checker.fail(
                f"{path}/submit", "must provide submit when the view contains input blocks"
            )

    checker.string(
        view.get("private_metadata"), f"{path}/private_metadata", max_length=PRIVATE_METADATA_MAX
    )
    checker.string(view.get("callback_id"), f"{path}/callback_id", max_length=ID_MAX)
    checker.string(view.get("external_id"), f"{path}/external_id", max_length=ID_MAX)
    if view.get("blocks") is None:
        checker.fail(f"{path}/blocks", "missing required field")
    else:
        checker.blocks(view["blocks"], f"{path}/blocks", SURFACE_MAX_BLOCKS)
    return checker.errors


# --------------------------------------------------------------------------------------
# Plain-text rendering for the demo printout
# --------------------------------------------------------------------------------------

_RULE = "─" * 40
_MRKDWN_LINK_RE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_MAX_RENDERED_OPTIONS = 10


def _mrkdwn_link_to_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        return f"@{label or target[1:].split('^')[0]}"
    if label:
        return f"{label} ({target})"
    return target


def _plain_mrkdwn(text: str) -> str:
    """Turn mrkdwn links, mentions and entity escapes into readable text."""
    text = _MRKDWN_LINK_RE.sub(_mrkdwn_link_to_text, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _render_text_object(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return ""
    text = str(value.get("text", ""))
    return _plain_mrkdwn(text) if value.get("type") == "mrkdwn" else text


def _option_labels(element: dict[str, Any]) -> list[str]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(group.get("options") or [])
    return [
        _render_text_object(option.get("text")) for option in options if isinstance(option, dict)
    ]


def _join_options(labels: list[str]) -> str:
    visible = " / ".join(labels[:_MAX_RENDERED_OPTIONS])
    hidden = len(labels) - _MAX_RENDERED_OPTIONS
    return f"{visible} / … (+{hidden} more)" if hidden > 0 else visible


def _render_element(element: Any) -> str:
    if not isinstance(element, dict):
        return ""
    element_type = element.get("type")
    placeholder = _render_text_object(element.get("placeholder"))

    if element_type in ("button", "workflow_button"):
        return f"[ {_render_text_object(element.get('text'))} ]"
    if element_type == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if element_type in _STATIC_SELECT_TYPES:
        initial = element.get("initial_option")
        selected_label = (
            _render_text_object(initial.get("text")) if isinstance(initial, dict) else placeholder
        )
        labels = _option_labels(element)
        rendered = f"[ {selected_label or 'Select'} ▾ ]"
        return f"{rendered}: {_join_options(labels)}" if labels else rendered
    if element_type in _DYNAMIC_SELECT_TYPES:
        return f"[ {placeholder or 'Select'} ▾ ]"
    if element_type == "overflow":
        return f"[ … ]: {_join_options(_option_labels(element))}"
    if element_type in _CHOICE_TYPES:
        return _render_choices(element)
    if element_type in ("datepicker", "timepicker", "datetimepicker"):
        initial_value = element.get("initial_date") or element.get("initial_time") or ""
        return f"[ {initial_value or placeholder or element_type} ▾ ]"
    if element_type in _TEXT_INPUT_TYPES:
        value = element.get("initial_value") or placeholder
        return f"[ {value} ______ ]" if value else "[ ______ ]"
    return f"[ {element_type} ]"


def _render_choices(element: dict[str, Any]) -> str:
    initial = element.get("initial_options") or []
    if isinstance(element.get("initial_option"), dict):
        initial = [element["initial_option"]]
    selected_values = {option.get("value") for option in initial if isinstance(option, dict)}
    radio = element.get("type") == "radio_buttons"
    rendered = []
    for option in element.get("options") or []:
        if not isinstance(option, dict):
            continue
        checked = option.get("value") in selected_values
        if radio:
            mark = "(•)" if checked else "( )"
        else:
            mark = "[x]" if checked else "[ ]"
        rendered.append(f"{mark} {_render_text_object(option.get('text'))}")
    return "  ".join(rendered)


def _render_rich_text(elements: Any) -> str:
    """Render rich_text sub-elements: sections, lists, quotes and preformatted text."""
    lines: list[str] = []
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, dict):
            continue
        element_type = element.get("type")
        if element_type == "rich_text_list":
            ordered = element.get("style") == "ordered"
            for number, item in enumerate(element.get("elements") or [], start=1):
                bullet = f"{number}." if ordered else "•"
                lines.append(f"{bullet} {_render_rich_text([item])}")
        elif element_type == "rich_text_quote":
            lines.extend(
                f"> {line}" for line in _render_inline(element.get("elements")).splitlines()
            )
        elif element_type == "rich_text_preformatted":
            lines.append(f"```\n{_render_inline(element.get('elements'))}\n```")
        else:
            lines.append(_render_inline(element.get("elements")))
    return "\n".join(lines)


def _render_inline(elements: Any) -> str:
    parts = []
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, dict):
            continue
        element_type = element.get("type")
        if element_type == "text":
            parts.append(str(element.get("text", "")))
        elif element_type == "link":
            parts.append(str(element.get("text") or element.get("url", "")))
        elif element_type == "user":
            parts.append(f"@{element.get('user_id', '')}")
        elif element_type == "channel":
            parts.append(f"#{element.get('channel_id', '')}")
        elif element_type == "usergroup":
            parts.append(f"@{element.get('usergroup_id', '')}")
        elif element_type == "broadcast":
            parts.append(f"@{element.get('range', '')}")
        elif element_type == "emoji":
            parts.append(f":{element.get('name', '')}:")
    return "".join(parts)


def _render_block(block: Any) -> list[str]:
    if not isinstance(block, dict):
        return []
    block_type = block.get("type")

    if block_type == "header":
        title = _render_text_object(block.get("text"))
        return [title, "=" * len(title)]
    if block_type == "section":
        lines = []
        if block.get("text") is not None:
            lines.append(_render_text_object(block["text"]))
        for item in block.get("fields") or []:
            lines.append("  " + " ".join(_render_text_object(item).split("\n")))
        if block.get("accessory") is not None:
            lines.append(_render_element(block["accessory"]))
        return lines
    if block_type == "context":
        rendered = []
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "image":
                rendered.append(_render_element(element))
            else:
                rendered.append(_render_text_object(element))
        return ["  ".join(rendered)]
    if block_type == "actions":
        return ["  ".join(_render_element(element) for element in block.get("elements") or [])]
    if block_type == "divider":
        return [_RULE]
    if block_type == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if block_type == "file":
        return [f"[file: {block.get('external_id', '')}]"]
    if block_type == "video":
        return [f"[video: {_render_text_object(block.get('title')) or block.get('alt_text', '')}]"]
    if block_type == "input":
        label = _render_text_object(block.get("label"))
        optional = " (optional)" if block.get("optional") else ""
        lines = [f"{label}{optional}", _render_element(block.get("element"))]
        if block.get("hint") is not None:
            lines.append(f"  {_render_text_object(block['hint'])}")
        return lines
    if block_type == "markdown":
        return [str(block.get("text", ""))]
    if block_type == "rich_text":
        return [_render_rich_text(block.get("elements"))]
    return [f"[{block_type} block]"]


def render_text(message: dict[str, Any]) -> str:
    """Render a message or view as the plain text a user would read in Slack.

    Blocks take precedence over the ``text`` fallback, as in Slack's clients. Buttons show
    as ``[ Label ]``, static selects as ``[ Placeholder ▾ ]: option1 / option2``,
    dividers as a line and images as ``[image: alt]``. A modal view gets its title on
    top and its submit and close buttons at the bottom. Files shared with the message
    show as ``[file: name]``.
    """
    lines: list[str] = []
    is_modal = message.get("type") == "modal"
    if is_modal:
        title = _render_text_object(message.get("title"))
        lines.extend([title, "=" * len(title)])

    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            lines.extend(_render_block(block))
    elif message.get("text"):
        lines.append(_plain_mrkdwn(str(message["text"])))

    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            lines.append(
                _plain_mrkdwn(str(attachment.get("text") or attachment.get("fallback") or ""))
            )
    for shared_file in message.get("files") or []:
        if isinstance(shared_file, dict):
            lines.append(f"[file: {shared_file.get('name') or shared_file.get('title', '')}]")

    if is_modal:
        buttons = [
            f"[ {_render_text_object(message[name])} ]"
            for name in ("close", "submit")
            if message.get(name) is not None
        ]
        if buttons:
            lines.append("  ".join(buttons))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Request parsing helpers
# --------------------------------------------------------------------------------------


def _last_values(parsed: dict[str, list[str]]) -> dict[str, Any]:
    return {key: values[-1] for key, values in parsed.items()}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(header + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = payload if part.get_filename() else payload.decode("utf-8")
    return fields


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Parse a JSON, multipart or form-encoded request body.

    Raises _ApiError ``invalid_json`` or ``invalid_form_data`` for unreadable bodies.
    """
    if not body:
        return {}
    mime_type = content_type.split(";", 1)[0].strip().lower()
    if mime_type == "application/json":
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _ApiError("invalid_json", detail=str(error)) from error
        if not isinstance(parsed, dict):
            raise _ApiError("invalid_json", detail="the JSON body must be an object")
        return parsed
    if mime_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    try:
        return _last_values(parse_qs(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as error:
        raise _ApiError("invalid_form_data", detail=str(error)) from error


def _decode_json_params(params: dict[str, Any]) -> None:
    """Parse JSON-encoded parameters in place, leaving invalid JSON for the method to reject."""
    for name in _JSON_PARAMS:
        value = params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                params[name] = json.loads(value)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _valid_metadata(metadata: Any) -> bool:
    """Check message metadata against Slack's shape: an event_type string and an event_payload object."""
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def _as_list(value: Any) -> list[str]:
    """Read a comma-separated string or a JSON array of ids."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _summarize_call(call: RecordedCall) -> str:
    parts = []
    for name, value in call.params.items():
        if name in ("blocks", "attachments") and isinstance(value, list):
            summary = f"[{len(value)} {name}]"
        elif name == "view" and isinstance(value, dict):
            summary = f"<{value.get('type', '?')} view>"
        else:
            summary = repr(value)
            if len(summary) > 60:
                summary = summary[:57] + "..."
        parts.append(f"{name}={summary}")
    outcome = "ok" if call.response.get("ok") else f"error {call.response.get('error')!r}"
    if call.status != 200:
        outcome += f" (HTTP {call.status})"
    return f"{call.method}({', '.join(parts)}) -> {outcome}"


# --------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------


class _StandinHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: SlackStandin) -> None:
        self.standin = standin
        # Connections kept open between requests, closed by stop() as a stopped Slack would.
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", standin._requested_port), _StandinRequestHandler)

    def close_open_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client has closed it already

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered in the serving thread, before the handler thread starts, so that stop(),
        # which runs after serve_forever() has returned, finds every accepted connection.
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected in latency tests.
        log.debug("Slack stand-in: error while serving %s", client_address, exc_info=True)


class _StandinRequestHandler(BaseHTTPRequestHandler):
    server: _StandinHTTPServer
    server_version = "SlackStandin/1.0"
    # Like Slack, the stand-in keeps a connection open for the next request unless the client
    # asks to close it (urllib does). Every response has a Content-Length. Without Nagle's
    # algorithm a kept-open connection does not wait for the client's delayed ACK between the
    # headers and the body.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        standin = self.server.standin
        with standin._lock:
            standin._connections_opened += 1

    def do_GET(self) -> None:
        self._dispatch(b"", time.time())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self._dispatch(body, time.time())

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("Slack stand-in: " + format, *args)

    def _dispatch(self, body: bytes, received_at: float) -> None:
        standin = self.server.standin
        url = urlsplit(self.path)
        try:
            method, reply = standin._handle_http(
                path=url.path,
                query=url.query,
                content_type=self.headers.get("Content-Type", ""),
                authorization=self.headers.get("Authorization"),
                body=body,
                received_at=received_at,
            )
        except Exception:
            log.exception("Slack stand-in failed to handle %s", url.path)
            method, reply = None, _Reply(500, {"ok": False, "error": "internal_error"})

        standin._wait_latency(method)
        try:
            self._send(reply)
        except OSError as error:
            log.debug("Slack stand-in could not send the response for %s: %s", url.path, error)

    def _send(self, reply: _Reply) -> None:
        if isinstance(reply.body, str):
            payload = reply.body.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(reply.body).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# --------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------

_ApiHandler = Callable[[dict[str, Any], str], dict[str, Any]]


class SlackStandin:
    """Local HTTP stand-in for the Slack Web API, described in the module docstring.

    Use it as a context manager (``with SlackStandin() as slack:``) or call ``start()``
    and ``stop()``. Point clients at ``base_url``. Registered users and channels
    survive ``reset()``, but recorded calls, messages, views, files and faults do not.

    Args:
        tokens: accepted tokens. ``None`` accepts any token starting with ``xoxb-``.
        strict: whether a message with blocks but no top-level ``text`` fails.
            chat.postMessage, chat.update and chat.postEphemeral then return
            ``invalid_blocks`` (the default). When false they succeed, and
            ``warnings()`` gets an entry.
        team_id, team_name, bot_user_id, bot_id, bot_name: identity returned by auth.test.
        port: TCP port on 127.0.0.1, where 0 picks a free one.
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] | None = None,
        strict: bool = True,
        team_id: str = "T0STANDIN",
        team_name: str = "Handoff Stand-in",
        bot_user_id: str = "U0BOTUSER",
        bot_id: str = "B0BOTID",
        bot_name: str = "handoff",
        port: int = 0,
    ) -> None:
        self._tokens = frozenset(tokens) if tokens is not None else None
        self.strict = strict
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self._requested_port = port

        self._lock = threading.RLock()
        self._condition = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _StandinHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._last_ts_micros = 0

        # Registries: kept by reset().
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._im_user: dict[str, str] = {}  # DM id -> user id
        self._user_im: dict[str, str] = {}  # user id -> DM id
        self._mpim_members: dict[str, list[str]] = {}

        self._handlers: dict[str, _ApiHandler] = {
            "auth.test": self._api_auth_test,
            "chat.postMessage": self._api_chat_post_message,
            "chat.update": self._api_chat_update,
            "chat.postEphemeral": self._api_chat_post_ephemeral,
            "chat.delete": self._api_chat_delete,
            "chat.getPermalink": self._api_chat_get_permalink,
            "conversations.open": self._api_conversations_open,
            "conversations.info": self._api_conversations_info,
            "conversations.list": self._api_conversations_list,
            "conversations.history": self._api_conversations_history,
            "users.info": self._api_users_info,
            "users.lookupByEmail": self._api_users_lookup_by_email,
            "views.open": self._api_views_open,
            "views.push": self._api_views_push,
            "views.update": self._api_views_update,
            "views.publish": self._api_views_publish,
            "files.getUploadURLExternal": self._api_files_get_upload_url_external,
            "files.completeUploadExternal": self._api_files_complete_upload_external,
            "files.list": self._api_files_list,
        }
        self._clear_recorded_state()
        self.add_user(bot_user_id, email="", real_name=bot_name, name=bot_name, is_bot=True)

    def _clear_recorded_state(self) -> None:
        self._calls: list[RecordedCall] = []
        self._messages: dict[tuple[str, str], _StoredMessage] = {}
        self._ephemeral: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._view_users: dict[str, str | None] = {}
        self._home_view_ids: dict[str, str] = {}
        self._pending_files: dict[str, _PendingFile] = {}
        self._files: list[dict[str, Any]] = []
        self._warnings: list[str] = []
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._latency: dict[str | None, float] = {}
        self._connections_opened = 0
        self._issued_triggers: dict[str, tuple[float, str | None]] = {}
        self._used_triggers: set[str] = set()

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> SlackStandin:
        """Start serving on 127.0.0.1 in a background thread and return self."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("SlackStandin is already running; call stop() first")
            self._stopping.clear()
            self._server = _StandinHTTPServer(self)
            # A short poll interval keeps stop() fast: shutdown() waits for the next poll.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"slack-standin-{self.port}",
                daemon=True,
            )
            self._thread.start()
        log.info("Slack stand-in listening at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop the server, wake requests held by set_latency(), and release the port."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_open_connections()
        if thread is not None:
            thread.join()
        log.info("Slack stand-in on port %s stopped", server.server_address[1])

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def connections_opened(self) -> int:
        """How many connections clients have opened to the stand-in since it was created."""
        with self._lock:
            return self._connections_opened

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError("SlackStandin is not running; call start() first")
        return int(server.server_address[1])

    @property
    def root_url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT/``, used in permalinks and upload URLs."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def base_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)``, ending in ``/``."""
        return f"{self.root_url}api/"

    # ---- registries --------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        email: str,
        real_name: str,
        tz: str = "Europe/Amsterdam",
        *,
        name: str | None = None,
        tz_label: str | None = None,
        locale: str = "en-US",
        is_bot: bool = False,
    ) -> None:
        """Register a workspace user for users.info and users.lookupByEmail.

        ``tz`` must be an IANA zone name. ``tz_offset`` and, unless given, ``tz_label``
        are computed from it at request time, so they follow DST changes.
        """
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown time zone {tz!r} for user {user_id}: use an IANA name"
            ) from error
        with self._lock:
            self._users[user_id] = {
                "id": user_id,
                "email": email,
                "real_name": real_name,
                "name": name or (email.split("@", 1)[0] if email else user_id.lower()),
                "tz": tz,
                "tz_label": tz_label,
                "locale": locale,
                "is_bot": is_bot,
            }

    def add_channel(
        self, channel_id: str, name: str, *, is_private: bool = False, is_member: bool = True
    ) -> None:
        """Register a channel that messages can be posted to and conversations.* can list.

        With ``is_member=False`` the bot is not in the channel. It can still post to a public
        channel, as with the chat:write.public scope, but a private one is hidden from it as on
        Slack: conversations.list leaves it out and posting fails with channel_not_found.
        """
        with self._lock:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name.lstrip("#"),
                "is_private": is_private,
                "is_member": is_member,
                "created": int(time.time()),
            }

    def issue_trigger_id(self, user_id: str | None = None, *, age: float = 0.0) -> str:
        """Return a trigger_id, as in an interaction payload, that expires after 3 seconds.

        ``age`` backdates the trigger by that many seconds, to test expiry. Trigger ids
        that this method did not issue are accepted without an expiry check, but every
        trigger_id is accepted only once, as on Slack.
        """
        with self._lock:
            trigger_id = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(12)}"
            self._issued_triggers[trigger_id] = (time.monotonic() - age, user_id)
            return trigger_id

    # ---- inspection ----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Return the recorded calls, oldest first, optionally only those of one method."""
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return the current version of each posted, undeleted message in posting order.

        ``channel`` may be a conversation id or a user id, which selects the bot's DM with
        that user. Each message has ``ts``, ``channel``, ``text``, ``blocks``,
        ``thread_ts``, ``attachments``, ``metadata``, ``user`` and ``bot_id``, and
        ``edited`` once updated.
        """
        with self._lock:
            conversation_id = self._user_im.get(channel, channel) if channel else None
            return [
                copy.deepcopy(stored.current)
                for (message_channel, _), stored in self._messages.items()
                if not stored.deleted
                and (conversation_id is None or message_channel == conversation_id)
            ]

    def history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Return every version of one message, oldest first, or [] if it was never posted."""
        with self._lock:
            channel = self._user_im.get(channel, channel)
            stored = self._messages.get((channel, ts))
            return copy.deepcopy(stored.versions) if stored else []

    def ephemeral_messages(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Return messages sent with chat.postEphemeral, optionally filtered."""
        with self._lock:
            conversation_id = self._user_im.get(channel, channel) if channel else None
            return [
                copy.deepcopy(message)
                for message in self._ephemeral
                if (conversation_id is None or message["channel"] == conversation_id)
                and (user is None or message["user"] == user)
            ]

    def views(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Return the current state of every opened, pushed or published view.

        The user of a modal is known only when its trigger_id came from
        ``issue_trigger_id(user_id)``.
        """
        with self._lock:
            return [
                copy.deepcopy(view)
                for view_id, view in self._views.items()
                if user_id is None or self._view_users.get(view_id) == user_id
            ]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """Return the Home tab last published for a user, or None."""
        with self._lock:
            view_id = self._home_view_ids.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return files shared by files.completeUploadExternal, with their bytes in ``content``."""
        with self._lock:
            conversation_id = self._user_im.get(channel, channel) if channel else None
            return [
                copy.deepcopy(shared)
                for shared in self._files
                if conversation_id is None or conversation_id in shared["channels"]
            ]

    def warnings(self) -> list[str]:
        """Return the warnings recorded in non-strict mode, such as a missing text fallback."""
        with self._lock:
            return list(self._warnings)

    def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 15.0,
    ) -> RecordedCall:
        """Block until a call of ``method`` matching ``predicate`` is recorded, and return it.

        Calls recorded before this method was called count too, so the first matching call
        since the last ``reset()`` is returned. Raises AssertionError listing every recorded
        call when none matches within ``timeout`` seconds. Exceptions from ``predicate``
        propagate.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for call in self._calls:
                    if call.method == method and (predicate is None or predicate(call)):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            seen = "\n".join(
                f"  {index}. {_summarize_call(call)}" for index, call in enumerate(self._calls, 1)
            )
            condition = f"a {method} call" + (" matching the predicate" if predicate else "")
            raise AssertionError(
                f"timed out after {timeout} s waiting for {condition}. "
                f"{len(self._calls)} calls recorded:\n{seen or '  (none)'}"
            )

    # ---- fault injection ---------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error: str | None = None,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail, after any failures already queued.

        With status 429 the response is HTTP 429 with a ``Retry-After: retry_after`` header
        and the body ``{"ok": false, "error": "ratelimited"}``. With status 500-599 it is
        that HTTP status and ``{"ok": false, "error": "internal_error"}``. With status 200
        it is ``{"ok": false, "error": error}``, so ``error`` is required then. For 429
        and 5xx, ``error`` replaces the default error code in the body. ``fields`` are added
        to the body, e.g. ``{"needed": "files:read"}`` as Slack adds to ``missing_scope``.
        """
        if status == 200 and not error:
            raise ValueError(
                "fail_next with status 200 needs an error code, e.g. 'channel_not_found'"
            )
        if status != 200 and status != 429 and not 500 <= status <= 599:
            raise ValueError(f"fail_next supports status 200, 429 or 500-599, not {status}")
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        default_error = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            self._faults[method].append(_Fault(error or default_error, status, retry_after, times, dict(fields or {})))

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay responses by ``seconds``: those of ``method``, or of every method if None.

        The request takes effect before the delay, as a slow Slack would post a message
        whose response then times out. 0 removes the delay.
        """
        if seconds < 0:
            raise ValueError(f"latency must be 0 or more seconds, not {seconds}")
        with self._lock:
            if seconds == 0:
                self._latency.pop(method, None)
            else:
                self._latency[method] = seconds

    def reset(self) -> None:
        """Forget recorded calls, messages, views, files, warnings, faults and latency.

        Registered users and channels and opened DMs stay, and new ts values keep increasing.
        """
        with self._lock:
            self._clear_recorded_state()

    # ---- request handling ----------------------------------------------------------------

    def _wait_latency(self, method: str | None) -> None:
        with self._lock:
            delay = self._latency.get(method, self._latency.get(None, 0.0))
        if delay > 0:
            # An Event wait, so that stop() releases held requests at once.
            self._stopping.wait(delay)

    def _handle_http(
        self,
        *,
        path: str,
        query: str,
        content_type: str,
        authorization: str | None,
        body: bytes,
        received_at: float | None = None,
    ) -> tuple[str | None, _Reply]:
        """Route one HTTP request and return the method name (for latency) and the reply."""
        received_at = time.time() if received_at is None else received_at
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            return method, self._handle_api(method, query, content_type, authorization, body, received_at)
        if path.startswith("/upload/v1/"):
            return UPLOAD_METHOD, self._handle_upload(path[len("/upload/v1/") :], body, received_at)
        if path.startswith("/response/"):
            return RESPONSE_URL_METHOD, self._handle_response_url(path[len("/response/") :], body, received_at)
        return None, _Reply(404, f"no such path: {path}. Web API methods are under /api/")

    def _handle_api(
        self,
        method: str,
        query: str,
        content_type: str,
        authorization: str | None,
        body: bytes,
        received_at: float,
    ) -> _Reply:
        params: dict[str, Any] = _last_values(parse_qs(query, keep_blank_values=True))
        parse_error: _ApiError | None = None
        try:
            params.update(_parse_body(content_type, body))
        except _ApiError as error:
            parse_error = error
        header_token = None
        if authorization and authorization.lower().startswith("bearer "):
            header_token = authorization[len("bearer ") :].strip() or None
        body_token = _as_str(params.pop("token", None))
        token = header_token or body_token
        _decode_json_params(params)

        with self._lock:
            try:
                reply = self._fault_reply(method)
                if reply is None and parse_error is not None:
                    raise parse_error
                if reply is None:
                    reply = self._call_method(method, params, token)
            except _ApiError as error:
                reply = _Reply(error.status, error.body())
            except Exception:
                # A bug in the stand-in must not hang or crash the client under test.
                log.exception("Slack stand-in failed to handle %s", method)
                reply = _Reply(500, {"ok": False, "error": "internal_error"})
            self._record(method, params, reply, token, received_at)
            return reply

    def _fault_reply(self, method: str) -> _Reply | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            queue.popleft()
        body = {**fault.fields, "ok": False, "error": fault.error}
        if fault.status == 429:
            return _Reply(429, body, {"Retry-After": str(fault.retry_after)})
        return _Reply(fault.status, body)

    def _call_method(self, method: str, params: dict[str, Any], token: str | None) -> _Reply:
        handler = self._handlers.get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method", "req_method": method})
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        accepted = token in self._tokens if self._tokens is not None else token.startswith("xoxb-")
        if not accepted:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        return _Reply(200, handler(params, token))

    def _record(
        self, method: str, params: dict[str, Any], reply: _Reply, token: str | None, received_at: float
    ) -> None:
        response = (
            reply.body if isinstance(reply.body, dict) else {"ok": False, "error": reply.body}
        )
        call = RecordedCall(
            method=method,
            params=copy.deepcopy(params),
            at=time.time(),
            response=copy.deepcopy(response),
            status=reply.status,
            token=token,
            received_at=received_at,
        )
        self._calls.append(call)
        if not response.get("ok"):
            log.debug("Slack stand-in: %s", _summarize_call(call))
        self._condition.notify_all()

    def _handle_upload(self, file_id: str, body: bytes, received_at: float) -> _Reply:
        with self._lock:
            params = {"file_id": file_id, "size": len(body)}
            reply = self._fault_reply(UPLOAD_METHOD)
            if reply is None:
                pending = self._pending_files.get(file_id)
                if pending is None:
                    reply = _Reply(404, {"ok": False, "error": "file_not_found"})
                else:
                    pending.content = body
                    reply = _Reply(200, {"ok": True, "file_id": file_id, "size": len(body)})
            self._record(UPLOAD_METHOD, params, reply, None, received_at)
            if reply.status == 200 and reply.body.get("ok"):
                # Slack's files host responds with plain text, not JSON.
                return _Reply(200, f"OK - {len(body)}")
            return reply

    def _handle_response_url(self, token: str, body: bytes, received_at: float) -> _Reply:
        """Record a message sent to an interaction's response_url, which takes JSON."""
        with self._lock:
            reply = self._fault_reply(RESPONSE_URL_METHOD)
            try:
                params = json.loads(body or b"{}")
            except json.JSONDecodeError:
                params = None
            if reply is None and not isinstance(params, dict):
                reply = _Reply(400, "invalid_payload")
            if reply is None:
                problems = check_blocks(params.get("blocks") or [])
                if problems and self.strict:
                    reply = _Reply(400, "invalid_blocks")
            recorded = reply or _Reply(200, {"ok": True})
            self._record(RESPONSE_URL_METHOD, {"response_token": token, **(params or {})}, recorded, None, received_at)
            return reply or _Reply(200, "ok")

    # ---- ids and lookups -------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Return a unique, increasing Slack timestamp such as ``1700000000.000100``."""
        now_micros = time.time_ns() // 1000
        self._last_ts_micros = max(self._last_ts_micros + 1, now_micros)
        seconds, micros = divmod(self._last_ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def _open_im(self, user_id: str) -> str:
        im_id = self._user_im.get(user_id)
        if im_id is None:
            im_id = f"D{user_id}"
            self._user_im[user_id] = im_id
            self._im_user[im_id] = user_id
        return im_id

    def _resolve_channel(self, channel: str | None, *, allow_user_id: bool) -> str:
        """Return the conversation id for ``channel`` or raise channel_not_found.

        With ``allow_user_id``, a user id stands for the bot's DM with that user, as in
        chat.postMessage. chat.update and chat.delete need the DM id itself.
        """
        if channel:
            registered = self._channels.get(channel)
            if registered is not None and registered["is_private"] and not registered["is_member"]:
                raise _ApiError("channel_not_found")
            if (
                channel in self._channels
                or channel in self._im_user
                or channel in self._mpim_members
            ):
                return channel
            if allow_user_id and _USER_ID_RE.fullmatch(channel):
                return self._open_im(channel)
        raise _ApiError("channel_not_found")

    def _stored_message(
        self, params: dict[str, Any], ts_param: str = "ts"
    ) -> tuple[str, _StoredMessage]:
        channel = self._resolve_channel(_as_str(params.get("channel")), allow_user_id=False)
        ts = _as_str(params.get(ts_param))
        if not ts:
            raise _missing_argument(ts_param)
        stored = self._messages.get((channel, ts))
        if stored is None or stored.deleted:
            raise _ApiError("message_not_found")
        return channel, stored

    def _user_payload(self, user: dict[str, Any], *, include_locale: bool) -> dict[str, Any]:
        now = datetime.now(ZoneInfo(user["tz"]))
        offset = now.utcoffset()
        payload: dict[str, Any] = {
            "id": user["id"],
            "team_id": self.team_id,
            "name": user["name"],
            "deleted": False,
            "real_name": user["real_name"],
            "tz": user["tz"],
            # NOTE: Slack's tz_label is a long name such as "Central European Time". The
            # stand-in falls back to the zone abbreviation unless add_user() got a label.
            "tz_label": user["tz_label"] or now.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_bot": user["is_bot"],
            "is_app_user": False,
            "profile": {
                "real_name": user["real_name"],
                "display_name": user["name"],
                "email": user["email"],
                "team": self.team_id,
            },
        }
        if user["is_bot"]:
            payload["profile"]["bot_id"] = self.bot_id
        if include_locale:
            payload["locale"] = user["locale"]
        return payload

    def _conversation_payload(self, conversation_id: str) -> dict[str, Any]:
        channel = self._channels.get(conversation_id)
        if channel is not None:
            return {
                "id": channel["id"],
                "name": channel["name"],
                "is_channel": not channel["is_private"],
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": channel["is_private"],
                "is_archived": False,
                "is_member": channel["is_member"],
                "created": channel["created"],
            }
        if conversation_id in self._im_user:
            return {
                "id": conversation_id,
                "is_im": True,
                "user": self._im_user[conversation_id],
                "is_open": True,
            }
        return {
            "id": conversation_id,
            "is_mpim": True,
            "is_private": True,
            "members": list(self._mpim_members[conversation_id]),
        }

    # ---- message content ---------------------------------------------------------------

    def _message_content(
        self, method: str, params: dict[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        """Check text, blocks and attachments and return the fields present.

        With ``partial`` (chat.update) absent fields are left out so the previous values
        stay. Raises no_text, msg_too_long, invalid_blocks_format or invalid_blocks.
        """
        content: dict[str, Any] = {}
        for name in ("text", "blocks", "attachments", "metadata"):
            if name in params:
                content[name] = _as_str(params[name]) if name == "text" else params[name]

        blocks = content.get("blocks")
        if isinstance(blocks, str):
            raise _ApiError("invalid_blocks_format", detail="blocks must be a JSON array")
        attachments = content.get("attachments")
        if isinstance(attachments, str) or (
            attachments is not None and not isinstance(attachments, list)
        ):
            raise _ApiError("invalid_attachments", detail="attachments must be a JSON array")

        metadata = content.get("metadata")
        if metadata is not None and not _valid_metadata(metadata):
            raise _ApiError(
                "invalid_metadata_format",
                detail="metadata must be an object with a string event_type and an object event_payload",
            )

        text = content.get("text") or ""
        if not partial and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if len(text) > MESSAGE_TEXT_MAX:
            raise _ApiError("msg_too_long")

        errors = check_blocks(blocks) if blocks is not None else []
        if blocks and not text.strip():
            problem = (
                "must provide a top-level text fallback when blocks are given [json-pointer:/text]"
            )
            if self.strict:
                errors.append(problem)
            else:
                self._warnings.append(f"{method}: {problem}")
        if errors:
            raise _ApiError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {error}" for error in errors]},
            )
        return content

    def _public_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """Return a message as Slack's API returns it: without the channel, without empty fields."""
        public = {"type": "message", "team": self.team_id}
        for name, value in message.items():
            if name != "channel" and value not in (None, [], {}):
                public[name] = copy.deepcopy(value)
        public.setdefault("text", "")
        return public

    # ---- API methods: auth and chat ---------------------------------------------------------

    def _api_auth_test(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.root_url,
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_chat_post_message(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._resolve_channel(_as_str(params.get("channel")), allow_user_id=True)
        content = self._message_content("chat.postMessage", params, partial=False)
        ts = self._next_ts()
        message = {
            "ts": ts,
            "channel": channel,
            "text": content.get("text") or "",
            "blocks": content.get("blocks") or [],
            "attachments": content.get("attachments") or [],
            "metadata": content.get("metadata"),
            # Stored as given, even when it names no message in the channel.
            "thread_ts": _as_str(params.get("thread_ts")),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
        }
        self._messages[(channel, ts)] = _StoredMessage(versions=[message])
        return {"ok": True, "channel": channel, "ts": ts, "message": self._public_message(message)}

    def _api_chat_update(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel, stored = self._stored_message(params)
        content = self._message_content("chat.update", params, partial=True)
        # Slack keeps the previous blocks and attachments when the update leaves them out.
        updated = {**copy.deepcopy(stored.current), **content}
        updated["blocks"] = updated.get("blocks") or []
        updated["attachments"] = updated.get("attachments") or []
        updated["text"] = updated.get("text") or ""
        updated["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        stored.versions.append(updated)
        return {
            "ok": True,
            "channel": channel,
            "ts": updated["ts"],
            "text": updated["text"],
            "message": self._public_message(updated),
        }

    def _api_chat_post_ephemeral(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._resolve_channel(_as_str(params.get("channel")), allow_user_id=True)
        user = _as_str(params.get("user"))
        if not user:
            raise _missing_argument("user")
        if not _USER_ID_RE.fullmatch(user):
            raise _ApiError("user_not_found")
        content = self._message_content("chat.postEphemeral", params, partial=False)
        ts = self._next_ts()
        self._ephemeral.append(
            {
                "ts": ts,
                "channel": channel,
                "user": user,
                "text": content.get("text") or "",
                "blocks": content.get("blocks") or [],
                "attachments": content.get("attachments") or [],
                "thread_ts": _as_str(params.get("thread_ts")),
            }
        )
        return {"ok": True, "message_ts": ts}

    def _api_chat_delete(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel, stored = self._stored_message(params)
        stored.deleted = True
        return {"ok": True, "channel": channel, "ts": stored.current["ts"]}

    def _api_chat_get_permalink(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel, stored = self._stored_message(params, ts_param="message_ts")
        message = stored.current
        permalink = f"{self.root_url}archives/{channel}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            permalink += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    # ---- API methods: conversations and users -----------------------------------------------

    def _api_conversations_open(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        users = _as_list(params.get("users"))
        existing = _as_str(params.get("channel"))
        if not users and not existing:
            raise _ApiError("users_list_not_supplied")
        if existing and not users:
            conversation_id = self._resolve_channel(existing, allow_user_id=False)
            already_open = True
        else:
            for user in users:
                if not _USER_ID_RE.fullmatch(user):
                    raise _ApiError("user_not_found", detail=f"not a user id: {user}")
            if len(users) == 1:
                already_open = users[0] in self._user_im
                conversation_id = self._open_im(users[0])
            else:
                members = sorted(set(users))
                digest = hashlib.sha1(",".join(members).encode()).hexdigest()[:10].upper()
                conversation_id = f"G{digest}"
                already_open = conversation_id in self._mpim_members
                self._mpim_members[conversation_id] = members

        channel = (
            self._conversation_payload(conversation_id)
            if _as_flag(params.get("return_im"))
            else {"id": conversation_id}
        )
        response: dict[str, Any] = {"ok": True, "channel": channel}
        if already_open:
            response.update({"no_op": True, "already_open": True})
        return response

    def _api_conversations_info(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        conversation_id = self._resolve_channel(_as_str(params.get("channel")), allow_user_id=False)
        return {"ok": True, "channel": self._conversation_payload(conversation_id)}

    def _api_conversations_list(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        types = set(_as_list(params.get("types")) or ["public_channel"])
        unknown_types = types - {"public_channel", "private_channel", "im", "mpim"}
        if unknown_types:
            raise _ApiError(
                "invalid_types", detail=f"unknown types: {', '.join(sorted(unknown_types))}"
            )

        conversation_ids = [
            channel_id
            for channel_id, channel in self._channels.items()
            if ("private_channel" if channel["is_private"] else "public_channel") in types
            and (channel["is_member"] or not channel["is_private"])
        ]
        if "im" in types:
            conversation_ids.extend(self._im_user)
        if "mpim" in types:
            conversation_ids.extend(self._mpim_members)

        try:
            limit = int(_as_str(params.get("limit")) or 100)
        except ValueError as error:
            raise _ApiError("invalid_limit") from error
        limit = max(1, min(limit, 1000))
        cursor = _as_str(params.get("cursor"))
        try:
            offset = int(base64.b64decode(cursor).decode()) if cursor else 0
        except ValueError as error:
            raise _ApiError("invalid_cursor") from error
        page = conversation_ids[offset : offset + limit]
        next_offset = offset + limit
        next_cursor = (
            base64.b64encode(str(next_offset).encode()).decode()
            if next_offset < len(conversation_ids)
            else ""
        )
        return {
            "ok": True,
            "channels": [self._conversation_payload(conversation_id) for conversation_id in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_conversations_history(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        """Return a conversation's top-level messages, newest first, paginated with a cursor.

        Message metadata is returned only with ``include_all_metadata``.
        """
        channel = self._resolve_channel(_as_str(params.get("channel")), allow_user_id=False)
        bounds = {}
        for name in ("oldest", "latest"):
            value = _as_str(params.get(name))
            try:
                bounds[name] = float(value) if value else None
            except ValueError as error:
                raise _ApiError(f"invalid_ts_{name}") from error
        oldest = bounds["oldest"] if bounds["oldest"] is not None else 0.0
        latest = bounds["latest"] if bounds["latest"] is not None else float("inf")
        inclusive = _as_flag(params.get("inclusive"))
        include_metadata = _as_flag(params.get("include_all_metadata"))

        def in_range(ts: str) -> bool:
            moment = float(ts)
            if inclusive:
                return oldest <= moment <= latest
            return oldest < moment < latest

        messages = [
            stored.current
            for (message_channel, ts), stored in self._messages.items()
            if message_channel == channel
            and not stored.deleted
            and stored.current.get("thread_ts") in (None, ts)
            and in_range(ts)
        ]
        messages.sort(key=lambda message: float(message["ts"]), reverse=True)

        try:
            limit = int(_as_str(params.get("limit")) or 100)
        except ValueError as error:
            raise _ApiError("invalid_limit") from error
        limit = max(1, min(limit, 999))
        cursor = _as_str(params.get("cursor"))
        try:
            offset = int(base64.b64decode(cursor).decode()) if cursor else 0
        except ValueError as error:
            raise _ApiError("invalid_cursor") from error
        page = []
        for message in messages[offset : offset + limit]:
            public = self._public_message(message)
            if not include_metadata:
                public.pop("metadata", None)
            page.append(public)
        has_more = offset + limit < len(messages)
        next_cursor = base64.b64encode(str(offset + limit).encode()).decode() if has_more else ""
        return {
            "ok": True,
            "messages": page,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_users_info(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        user_id = _as_str(params.get("user"))
        if not user_id:
            raise _missing_argument("user")
        user = self._users.get(user_id)
        if user is None:
            raise _ApiError("user_not_found")
        include_locale = _as_flag(params.get("include_locale"))
        return {"ok": True, "user": self._user_payload(user, include_locale=include_locale)}

    def _api_users_lookup_by_email(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        email = _as_str(params.get("email"))
        if not email:
            raise _missing_argument("email")
        # Case-insensitive, as on Slack. Spaces are not trimmed, so callers must normalise.
        requested = email.lower()
        for user in self._users.values():
            if user["email"] and user["email"].lower() == requested:
                return {"ok": True, "user": self._user_payload(user, include_locale=False)}
        raise _ApiError("users_not_found")

    # ---- API methods: views ----------------------------------------------------------------

    def _checked_view(self, params: dict[str, Any], *, expected_type: str | None) -> dict[str, Any]:
        view = params.get("view")
        if view is None:
            raise _missing_argument("view")
        if isinstance(view, str):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] view must be a JSON object [json-pointer:/view]"]
                },
            )
        errors = check_view(view)
        if (
            expected_type is not None
            and isinstance(view, dict)
            and view.get("type") != expected_type
        ):
            errors.insert(0, f"must be {expected_type} for this method [json-pointer:/view/type]")
        if errors:
            # Slack rejects invalid views with invalid_arguments, not invalid_blocks as for
            # messages. The details are in response_metadata.messages, and `errors` repeats them.
            raise _ApiError(
                "invalid_arguments",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {error}" for error in errors]},
            )
        return view

    def _exchange_trigger(self, params: dict[str, Any]) -> str | None:
        """Consume the trigger_id or interactivity_pointer and return the user it belongs to."""
        trigger_id = _as_str(params.get("trigger_id")) or _as_str(
            params.get("interactivity_pointer")
        )
        if not trigger_id:
            raise _missing_argument("trigger_id")
        if trigger_id in self._used_triggers:
            raise _ApiError("exchanged_trigger_id")
        issued = self._issued_triggers.get(trigger_id)
        if issued is not None and time.monotonic() - issued[0] > TRIGGER_ID_LIFETIME:
            raise _ApiError("expired_trigger_id")
        self._used_triggers.add(trigger_id)
        return issued[1] if issued is not None else None

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str,
        previous: dict[str, Any] | None,
        user_id: str | None,
    ) -> dict[str, Any]:
        external_id = view.get("external_id") or ""
        if external_id:
            for other_id, other in self._views.items():
                if other_id != view_id and other.get("external_id") == external_id:
                    raise _ApiError("duplicate_external_id")
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": external_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._ids)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": previous.get("previous_view_id") if previous else None,
            "app_id": "A0STANDIN",
            "bot_id": self.bot_id,
        }
        for name in ("title", "submit", "close"):
            if view.get(name) is not None:
                stored[name] = copy.deepcopy(view[name])
        self._views[view_id] = stored
        if user_id is not None or view_id not in self._view_users:
            self._view_users[view_id] = user_id
        return stored

    def _api_views_open(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        view = self._checked_view(params, expected_type="modal")
        user_id = self._exchange_trigger(params)
        stored = self._store_view(view, view_id=self._next_id("V"), previous=None, user_id=user_id)
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _api_views_push(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        view = self._checked_view(params, expected_type="modal")
        user_id = self._exchange_trigger(params)
        # NOTE: the stand-in cannot tell which modal the trigger came from, so a pushed
        # view starts its own stack. Slack's limit of 3 pushed views is not enforced.
        stored = self._store_view(view, view_id=self._next_id("V"), previous=None, user_id=user_id)
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _api_views_update(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        view_id = _as_str(params.get("view_id"))
        external_id = _as_str(params.get("external_id"))
        if not view_id and not external_id:
            raise _missing_argument("view_id")
        if not view_id:
            view_id = next(
                (
                    other_id
                    for other_id, other in self._views.items()
                    if other["external_id"] == external_id
                ),
                None,
            )
        previous = self._views.get(view_id) if view_id else None
        if previous is None:
            raise _ApiError("not_found")
        expected_hash = _as_str(params.get("hash"))
        if expected_hash and expected_hash != previous["hash"]:
            raise _ApiError("hash_conflict")
        view = self._checked_view(params, expected_type=None)
        stored = self._store_view(view, view_id=view_id, previous=previous, user_id=None)
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _api_views_publish(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        user_id = _as_str(params.get("user_id"))
        if not user_id:
            raise _missing_argument("user_id")
        if not _USER_ID_RE.fullmatch(user_id):
            raise _ApiError("user_not_found")
        view = self._checked_view(params, expected_type="home")
        view_id = self._home_view_ids.get(user_id)
        previous = self._views.get(view_id) if view_id else None
        expected_hash = _as_str(params.get("hash"))
        if previous is not None and expected_hash and expected_hash != previous["hash"]:
            raise _ApiError("hash_conflict")
        if view_id is None:
            view_id = self._next_id("V")
            self._home_view_ids[user_id] = view_id
        stored = self._store_view(view, view_id=view_id, previous=previous, user_id=user_id)
        return {"ok": True, "view": copy.deepcopy(stored)}

    # ---- API methods: files ----------------------------------------------------------------

    def _api_files_get_upload_url_external(
        self, params: dict[str, Any], token: str
    ) -> dict[str, Any]:
        filename = _as_str(params.get("filename"))
        if not filename:
            raise _missing_argument("filename")
        length_param = _as_str(params.get("length"))
        if not length_param:
            raise _missing_argument("length")
        try:
            length = int(length_param)
        except ValueError as error:
            raise _ApiError(
                "invalid_arguments", detail=f"length must be an integer, got {length_param!r}"
            ) from error
        file_id = self._next_id("F")
        self._pending_files[file_id] = _PendingFile(
            id=file_id,
            filename=filename,
            length=length,
            alt_txt=_as_str(params.get("alt_txt")),
            snippet_type=_as_str(params.get("snippet_type")),
        )
        return {"ok": True, "upload_url": f"{self.root_url}upload/v1/{file_id}", "file_id": file_id}

    def _api_files_complete_upload_external(
        self, params: dict[str, Any], token: str
    ) -> dict[str, Any]:
        requested = params.get("files")
        if requested is None:
            raise _missing_argument("files")
        if not isinstance(requested, list) or not all(isinstance(item, dict) for item in requested):
            raise _ApiError(
                "invalid_arguments", detail="files must be a JSON array of objects with an id"
            )

        channel_ids = _as_list(params.get("channels"))
        if params.get("channel_id"):
            channel_ids.insert(0, str(params["channel_id"]))
        channels = [
            self._resolve_channel(channel_id, allow_user_id=True) for channel_id in channel_ids
        ]

        pending_files = []
        for item in requested:
            pending = self._pending_files.get(str(item.get("id")))
            # NOTE: Slack's error for a file whose bytes were never uploaded is not
            # documented, so the stand-in reports file_not_found for it too.
            if pending is None or pending.content is None:
                raise _ApiError(
                    "file_not_found", detail=f"no uploaded file with id {item.get('id')!r}"
                )
            pending_files.append((pending, item))

        completed = []
        for pending, item in pending_files:
            shared = {
                "id": pending.id,
                "name": pending.filename,
                "title": item.get("title") or pending.filename,
                "mimetype": mimetypes.guess_type(pending.filename)[0] or "application/octet-stream",
                "size": len(pending.content or b""),
                "length": pending.length,
                "created": int(time.time()),
                "channels": channels,
                "initial_comment": _as_str(params.get("initial_comment")),
                "thread_ts": _as_str(params.get("thread_ts")),
                "alt_txt": pending.alt_txt,
                "content": pending.content,
            }
            self._files.append(shared)
            del self._pending_files[pending.id]
            completed.append({name: value for name, value in shared.items() if name != "content"})
        return {"ok": True, "files": completed}

    def _api_files_list(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        """Return shared files, newest first, in pages numbered from 1 as Slack's files.list does.

        ``channel``, ``user``, ``ts_from`` and ``ts_to`` (inclusive, in Unix seconds) and
        ``types`` filter the list. The response has ``files`` and
        ``paging: {count, total, page, pages}``.
        """
        types = _as_list(params.get("types")) or ["all"]
        unknown = [name for name in types if name not in _FILE_TYPES]
        if unknown:
            raise _ApiError("unknown_type", detail=f"unknown file types: {', '.join(unknown)}")
        user = _as_str(params.get("user"))
        if user and user not in self._users:
            raise _ApiError("user_not_found")
        channel = _as_str(params.get("channel"))
        ts_from = _unix_seconds_param(params, "ts_from", 0.0)
        ts_to = _unix_seconds_param(params, "ts_to", float("inf"))
        count = _positive_int_param(params, "count", 100)
        page_number = _positive_int_param(params, "page", 1)

        matching = [
            shared
            for shared in reversed(self._files)
            if (not channel or channel in shared["channels"])
            and (not user or user == self.bot_user_id)
            and ts_from <= shared["created"] <= ts_to
            and any(_FILE_TYPES[name](shared) for name in types)
        ]
        start = (page_number - 1) * count
        page = [self._listed_file(shared) for shared in matching[start : start + count]]
        pages = -(-len(matching) // count)
        return {
            "ok": True,
            "files": page,
            "paging": {"count": count, "total": len(matching), "page": page_number, "pages": pages},
        }

    def _listed_file(self, shared: dict[str, Any]) -> dict[str, Any]:
        listed = {name: copy.deepcopy(value) for name, value in shared.items() if name != "content"}
        listed["timestamp"] = shared["created"]
        listed["filetype"] = shared["name"].rsplit(".", 1)[-1].lower() if "." in shared["name"] else ""
        # Every file in the stand-in is uploaded with the bot token.
        listed["user"] = self.bot_user_id
        return listed


def _is_image(shared: dict[str, Any]) -> bool:
    return str(shared.get("mimetype", "")).startswith("image/")


# Values of files.list's ``types`` argument and the files each selects. The stand-in has no
# posts (``spaces``) or Google Docs, so those select nothing, and it counts every text/plain
# file as a snippet.
_FILE_TYPES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "all": lambda shared: True,
    "spaces": lambda shared: False,
    "snippets": lambda shared: shared.get("mimetype") == "text/plain",
    "images": _is_image,
    "gdocs": lambda shared: False,
    "zips": lambda shared: shared.get("mimetype") == "application/zip",
    "pdfs": lambda shared: shared.get("mimetype") == "application/pdf",
}


def _unix_seconds_param(params: dict[str, Any], name: str, default: float) -> float:
    value = _as_str(params.get(name))
    if not value:
        return default
    try:
        return float(value)
    except ValueError as error:
        raise _ApiError(
            "invalid_arguments", detail=f"{name} must be a Unix time in seconds, got {value!r}"
        ) from error


def _positive_int_param(params: dict[str, Any], name: str, default: int) -> int:
    value = _as_str(params.get(name))
    if not value:
        return default
    try:
        number = int(value)
    except ValueError as error:
        raise _ApiError(
            "invalid_arguments", detail=f"{name} must be a whole number, got {value!r}"
        ) from error
    if number < 1:
        raise _ApiError("invalid_arguments", detail=f"{name} must be 1 or more, got {number}")
    return number
