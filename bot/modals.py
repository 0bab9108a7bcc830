"""Block Kit modals of the sales actions, and reading their submitted values."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.config import Rep
from bot.i18n import t
from bot.ids import MAX_DATABASE_INT, CallbackId
from bot.lifecycle import BANT_CRITERIA, MEDDIC_CRITERIA, ContactChannel, NextAction, RejectionReason
from bot.messages import clip, lead_text

MODAL_TITLE_LIMIT = 24
NOTE_LIMIT = 3000
REFERENCE_LIMIT = 500


class ModalMeta(BaseModel):
    """Modal `private_metadata`: the lead, the card version and the chosen reason."""

    model_config = ConfigDict(extra="forbid")

    lead: int = Field(ge=1, le=MAX_DATABASE_INT)
    v: int = Field(ge=1, le=MAX_DATABASE_INT)
    reason: str | None = None

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def decode(cls, raw: str) -> ModalMeta:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as error:
            raise ValueError(f"invalid modal metadata {raw[:100]!r}: {error.errors()[0]['msg']}") from None


def _title(language: str, key: str) -> PlainTextObject:
    return PlainTextObject(text=clip(t(language, key), MODAL_TITLE_LIMIT, language))


def _text_input(block_id: str, label: str, *, multiline: bool = False, initial: str | None = None,
                max_length: int = NOTE_LIMIT) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=True,
        element=PlainTextInputElement(action_id=block_id, multiline=multiline, max_length=max_length,
                                      initial_value=(initial or None) and initial[:max_length]),
    )


def _date_input(block_id: str, label: str, initial: date | None) -> InputBlock:
    return InputBlock(
        block_id=block_id, label=PlainTextObject(text=label), optional=True,
        element=DatePickerElement(action_id=block_id, initial_date=initial.isoformat() if initial else None),
    )


def _modal(callback: CallbackId, language: str, title_key: str, meta: ModalMeta, blocks: list[Block],
           submit_key: str = "modal.save") -> dict[str, Any]:
    return View(
        type="modal", callback_id=callback.value, title=_title(language, title_key),
        submit=_title(language, submit_key), close=_title(language, "modal.cancel"),
        private_metadata=meta.encode(), blocks=blocks,
    ).to_dict()


def reject_modal(meta: ModalMeta, company: str | None, reason: RejectionReason, action: NextAction,
                 reps: list[Rep], current_rep: str | None, nurture_default: date, language: str) -> dict[str, Any]:
    next_text = t(language, f"next.{action.value}" if action is not NextAction.REROUTE else "next.reroute_pending",
                  **({"date": nurture_default.isoformat()} if action is NextAction.NURTURE else {}))
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(
            text=f"*{lead_text(company, language, 200)}*\n{t(language, 'modal.reject.reason')}: "
                 f"*{t(language, 'reason.' + reason.value)}*")),
        ContextBlock(elements=[MarkdownTextObject(text=t(language, "modal.reject.next", next_action=next_text))]),
        _text_input("note", t(language, "modal.reject.note"), multiline=True),
    ]
    if action is NextAction.REROUTE:
        # Corrected contact data goes with the lead to its next rep.
        blocks.append(_text_input("contact_email", t(language, "modal.reject.email"), max_length=320))
        blocks.append(_text_input("contact_phone", t(language, "modal.reject.phone"), max_length=64))
        options = [Option(text=PlainTextObject(text=clip(rep.name, 75, language)), value=rep.email[:150])
                   for rep in reps if rep.active and rep.email != current_rep][:100]
        if options:
            blocks.append(InputBlock(
                block_id="rep", label=PlainTextObject(text=t(language, "modal.reject.rep")), optional=True,
                element=StaticSelectElement(action_id="rep", options=options)))
    if action is NextAction.NURTURE:
        blocks.append(_date_input("nurture_until", t(language, "modal.reject.until"), nurture_default))
    if reason is RejectionReason.DUPLICATE:
        blocks.append(_text_input("duplicate_of", t(language, "modal.reject.duplicate_of"), max_length=320))
    return _modal(CallbackId.REJECT, language, "modal.reject.title", meta, blocks, "modal.reject.submit")


def contact_modal(meta: ModalMeta, company: str | None, language: str) -> dict[str, Any]:
    options = [Option(text=PlainTextObject(text=t(language, f"contact.{channel.value}")), value=channel.value)
               for channel in ContactChannel]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{lead_text(company, language, 200)}*")),
        InputBlock(block_id="channel", label=PlainTextObject(text=t(language, "modal.contact.channel")),
                   element=StaticSelectElement(action_id="channel", options=options, initial_option=options[0])),
        _text_input("note", t(language, "modal.contact.note"), multiline=True),
    ]
    return _modal(CallbackId.CONTACT, language, "modal.contact.title", meta, blocks)


def criteria_for(methodology: str) -> tuple[str, ...]:
    return BANT_CRITERIA if methodology == "bant" else MEDDIC_CRITERIA


def discovery_modal(meta: ModalMeta, company: str | None, methodology: str, opportunity_ref: str | None,
                    language: str) -> dict[str, Any]:
    criteria = criteria_for(methodology)
    options = [Option(text=PlainTextObject(text=clip(t(language, f"criterion.{key}"), 75, language)), value=key)
               for key in criteria]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{lead_text(company, language, 200)}*")),
        InputBlock(block_id="criteria", optional=True,
                   label=PlainTextObject(text=t(language, "modal.discovery.criteria", framework=methodology.upper())),
                   element=CheckboxesElement(action_id="criteria", options=options)),
    ]
    for key in criteria:
        blocks.append(_text_input(f"note_{key}", t(language, "modal.discovery.note", criterion=t(language, f"criterion.{key}"))))
    blocks.append(_text_input("next_steps", t(language, "modal.discovery.next_steps"), multiline=True))
    blocks.append(_text_input("opportunity_ref", t(language, "modal.discovery.opportunity"), initial=opportunity_ref,
                              max_length=REFERENCE_LIMIT))
    return _modal(CallbackId.DISCOVERY, language, "modal.discovery.title", meta, blocks, "modal.discovery.submit")


def nurture_modal(meta: ModalMeta, company: str | None, default_until: date, notes: str | None,
                  language: str) -> dict[str, Any]:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{lead_text(company, language, 200)}*")),
        _text_input("nurture_reason", t(language, "modal.nurture.reason")),
        _date_input("nurture_until", t(language, "modal.nurture.until"), default_until),
        _text_input("notes", t(language, "modal.nurture.notes"), multiline=True, initial=notes),
    ]
    return _modal(CallbackId.NURTURE, language, "modal.nurture.title", meta, blocks)


def opportunity_modal(meta: ModalMeta, company: str | None, reference: str | None, language: str) -> dict[str, Any]:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{lead_text(company, language, 200)}*")),
        _text_input("opportunity_ref", t(language, "modal.discovery.opportunity"), initial=reference,
                    max_length=REFERENCE_LIMIT),
    ]
    return _modal(CallbackId.OPPORTUNITY, language, "modal.opportunity.title", meta, blocks)


class SubmittedValues:
    """Typed access to `view.state.values` of a submitted modal; absent fields read as empty."""

    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = ((view.get("state") or {}).get("values") or {})

    def _element(self, block_id: str) -> dict[str, Any]:
        block = self._values.get(block_id) or {}
        element = block.get(block_id)
        if element is None and block:
            element = next(iter(block.values()))
        return element if isinstance(element, dict) else {}

    def text(self, block_id: str) -> str:
        value = self._element(block_id).get("value")
        return value.strip() if isinstance(value, str) else ""

    def date(self, block_id: str) -> date | None:
        value = self._element(block_id).get("selected_date")
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def selected(self, block_id: str) -> str | None:
        option = self._element(block_id).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def checked(self, block_id: str) -> set[str]:
        options = self._element(block_id).get("selected_options") or []
        return {option["value"] for option in options if isinstance(option, dict) and isinstance(option.get("value"), str)}
