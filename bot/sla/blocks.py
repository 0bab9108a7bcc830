"""Block Kit of the clock controls: the pause modal, the paused-clock notice and the nurture-notes modal."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.i18n import t
from bot.ids import ActionId, CallbackId
from bot.messages import Message, clip
from bot.sla.pauses import NOTE_LIMIT, PAUSE_REASONS

MODAL_TITLE_LIMIT = 24


def _plain(language: str, key: str) -> PlainTextObject:
    return PlainTextObject(text=clip(t(language, key), MODAL_TITLE_LIMIT, language))


def pause_modal(clock_id: int, task: str, language: str) -> dict[str, Any]:
    """Draw the modal that pauses clock `clock_id`: a reason and a note, required for 'other'."""
    reasons = StaticSelectElement(
        action_id="reason", placeholder=PlainTextObject(text=t(language, "sla.pause.reason")),
        options=[Option(text=PlainTextObject(text=t(language, f"sla.pause.reason.{reason}")), value=reason)
                 for reason in PAUSE_REASONS])
    return View(
        type="modal", callback_id=CallbackId.PAUSE.value, private_metadata=str(clock_id),
        title=_plain(language, "sla.pause.title"), submit=_plain(language, "sla.pause.submit"),
        close=_plain(language, "modal.cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=clip(t(language, "sla.pause.intro", task=task), 3000, language))),
            InputBlock(block_id="reason", label=PlainTextObject(text=t(language, "sla.pause.reason")), element=reasons),
            InputBlock(block_id="note", optional=True, label=PlainTextObject(text=t(language, "sla.pause.note")),
                       element=PlainTextInputElement(action_id="note", multiline=True, max_length=NOTE_LIMIT)),
        ],
    ).to_dict()


def pause_notice(clock_id: int, task: str, reason: str, language: str) -> Message:
    """Draw the owner's record of a pause, with the button that resumes the clock."""
    text = t(language, "sla.pause.done", task=task, reason=t(language, f"sla.pause.reason.{reason}"))
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, 3000, language))),
        ActionsBlock(block_id="sla_paused", elements=[
            ButtonElement(text=t(language, "sla.resume.button"), action_id=ActionId.RESUME.value, value=str(clock_id),
                          style="primary")]),
    ]
    return Message(text=clip(text, 3000, language), blocks=[block.to_dict() for block in blocks])


def nurture_notes_modal(lead_id: int, language: str) -> dict[str, Any]:
    """Draw the modal in which the rep records the discovery notes of a lead returned to nurture."""
    return View(
        type="modal", callback_id=CallbackId.NURTURE_NOTES.value, private_metadata=str(lead_id),
        title=_plain(language, "sla.nurture_notes.title"), submit=_plain(language, "modal.save"),
        close=_plain(language, "modal.cancel"),
        blocks=[InputBlock(block_id="notes", label=PlainTextObject(text=t(language, "sla.nurture_notes.label")),
                           element=PlainTextInputElement(action_id="notes", multiline=True, max_length=NOTE_LIMIT))],
    ).to_dict()
