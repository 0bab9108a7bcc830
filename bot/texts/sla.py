"""Texts of /sla."""

from bot.texts import TextEntry

TEXTS: dict[str, TextEntry] = {
    "sla.title": {"nl": "SLA-overzicht", "en": "SLA overview"},
    "sla.fallback": {"nl": "SLA: {breached} verlopen, {at_risk} in gevaar.", "en": "SLA: {breached} breached, {at_risk} at risk."},
    "sla.team": {"nl": "*{team}* · {breached} verlopen, {at_risk} in gevaar", "en": "*{team}* · {breached} breached, {at_risk} at risk"},
    "sla.breached_line": {
        "nl": ":red_circle: {rep} · *{company}* · {task} · {overdue} te laat",
        "en": ":red_circle: {rep} · *{company}* · {task} · {overdue} late",
    },
    "sla.risk_line": {
        "nl": ":large_orange_circle: {rep} · *{company}* · {task} · nog {left}",
        "en": ":large_orange_circle: {rep} · *{company}* · {task} · {left} left",
    },
    "sla.none": {"nl": "Geen verlopen of bedreigde SLA's. :white_check_mark:", "en": "No breached or at-risk SLAs. :white_check_mark:"},
    "sla.hours": {
        "nl": {"one": "{count} werkuur", "other": "{count} werkuur"},
        "en": {"one": "{count} working hour", "other": "{count} working hours"},
    },
    "sla.task.decision": {"nl": "accepteren/afwijzen", "en": "accept/reject"},
    "sla.task.first_contact": {"nl": "eerste contact", "en": "first contact"},
    "sla.task.cadence": {"nl": "contactpogingen", "en": "contact attempts"},
    "sla.task.discovery_scheduled": {"nl": "discovery plannen", "en": "schedule discovery"},
    "sla.task.discovery_completed": {"nl": "discovery afronden", "en": "complete discovery"},
    "sla.task.sql_decision": {"nl": "SQL-beslissing", "en": "SQL decision"},
    "escalation.acknowledge": {"nl": "Gezien", "en": "Acknowledge"},
    "escalation.acknowledged": {
        "nl": "Escalatie bevestigd door {user}; de keten gaat niet verder.",
        "en": "Escalation acknowledged by {user}; the chain goes no further.",
    },
    "escalation.already_acknowledged": {"nl": "Al bevestigd door {user}.", "en": "Already acknowledged by {user}."},
    "sla.not_allowed": {
        "nl": "Alleen reps, managers en beheerders uit de handoff-configuratie kunnen `/sla` gebruiken.",
        "en": "Only the reps, managers and admins of the handoff configuration can use `/sla`.",
    },
    "escalation.not_allowed": {
        "nl": "Alleen de manager, iemand uit de escalatieketen of een beheerder kan dit bevestigen.",
        "en": "Only the manager, someone in the escalation chain or an admin can acknowledge this.",
    },
    "sla.delay": {
        "nl": "Vertraging: systeem {system}, rep {rep}",
        "en": "Delay: system {system}, rep {rep}",
    },
    "clock.nurture_notes": {
        "nl": "de discoverynotities van *{company}* vastleggen",
        "en": "record the discovery notes of *{company}*",
    },
    "sla.task.nurture_notes": {"nl": "discoverynotities", "en": "discovery notes"},
    "sla.snooze.placeholder": {"nl": "Later herinneren", "en": "Snooze"},
    "sla.snooze.hour": {"nl": "Over 1 werkuur", "en": "In 1 working hour"},
    "sla.snooze.morning": {"nl": "Volgende werkochtend", "en": "Next working morning"},
    "sla.snooze.day": {"nl": "Over 1 werkdag", "en": "In 1 working day"},
    "sla.snooze.done": {
        "nl": "Herinnering uitgesteld tot {until}. De deadline blijft {deadline}.",
        "en": "Reminder snoozed until {until}. The deadline stays {deadline}.",
    },
    "sla.snooze.done_no_reminder": {
        "nl": "Geen herinneringen meer voor de deadline van {deadline}; die blijft staan.",
        "en": "No more reminders before the deadline of {deadline}, which stays where it is.",
    },
    "sla.snooze.already": {
        "nl": "Deze herinnering is al uitgesteld tot {until}.",
        "en": "This reminder is already snoozed until {until}.",
    },
    "sla.control.not_owner": {
        "nl": "Alleen de eigenaar van de lead ({owner}) kan dit doen.",
        "en": "Only the lead's owner ({owner}) can do this.",
    },
    "sla.control.not_running": {
        "nl": "Deze klok loopt niet meer; er is niets uit te stellen of te pauzeren.",
        "en": "This clock no longer runs, so there is nothing to snooze or pause.",
    },
    "sla.control.changed": {
        "nl": "De klok veranderde net; probeer het opnieuw.",
        "en": "The clock changed just now; try again.",
    },
    "sla.pause.button": {"nl": "Pauzeren", "en": "Pause"},
    "sla.pause.title": {"nl": "Klok pauzeren", "en": "Pause clock"},
    "sla.pause.submit": {"nl": "Pauzeren", "en": "Pause"},
    "sla.pause.intro": {
        "nl": "Pauzeer de klok voor: {task}. Een gepauzeerde klok stuurt geen herinneringen of escalaties; "
              "bij hervatten schuift de deadline op met de gepauzeerde werktijd.",
        "en": "Pause the clock to {task}. A paused clock sends no reminders or escalations; on resume the "
              "deadline moves on by the working time it was paused.",
    },
    "sla.pause.reason": {"nl": "Reden", "en": "Reason"},
    "sla.pause.reason.waiting_for_customer": {"nl": "Wacht op de klant", "en": "Waiting for the customer"},
    "sla.pause.reason.customer_out_of_office": {"nl": "Klant afwezig", "en": "Customer out of office"},
    "sla.pause.reason.other": {"nl": "Andere reden", "en": "Other"},
    "sla.pause.note": {"nl": "Toelichting", "en": "Note"},
    "sla.pause.note_required": {
        "nl": "Licht 'Andere reden' toe in een paar woorden.",
        "en": "Explain 'Other' in a few words.",
    },
    "sla.pause.reason_missing": {"nl": "Kies een reden.", "en": "Choose a reason."},
    "sla.pause.done": {
        "nl": ":double_vertical_bar: De klok voor {task} is gepauzeerd ({reason}). Hervat hem zodra je verder kunt.",
        "en": ":double_vertical_bar: The clock to {task} is paused ({reason}). Resume it as soon as you can go on.",
    },
    "sla.pause.already": {"nl": "Deze klok is al gepauzeerd.", "en": "This clock is already paused."},
    "sla.pause.breached": {
        "nl": "De deadline is al verstreken; een verlopen klok blijft escaleren en kan niet gepauzeerd worden.",
        "en": "The deadline has passed; a breached clock keeps escalating and cannot be paused.",
    },
    "sla.resume.button": {"nl": "Hervatten", "en": "Resume"},
    "sla.resume.done": {
        "nl": ":arrow_forward: Klok hervat na {paused} gepauzeerde werktijd; nieuwe deadline: {deadline}.",
        "en": ":arrow_forward: Clock resumed after {paused} of paused working time; new deadline: {deadline}.",
    },
    "sla.resume.already": {"nl": "Deze klok loopt al.", "en": "This clock is already running."},
    "sla.resume.not_allowed": {
        "nl": "Alleen de eigenaar, diens manager of een beheerder kan deze klok hervatten.",
        "en": "Only the owner, the owner's manager or an admin can resume this clock.",
    },
    "sla.nurture_notes.button": {"nl": "Notities toevoegen", "en": "Add notes"},
    "sla.nurture_notes.title": {"nl": "Discoverynotities", "en": "Discovery notes"},
    "sla.nurture_notes.label": {
        "nl": "Wat leerde je in discovery? Marketing gebruikt dit bij de nurture.",
        "en": "What did you learn in discovery? Marketing uses this while nurturing.",
    },
    "sla.nurture_notes.missing": {"nl": "Schrijf de notities op.", "en": "Write down the notes."},
    "sla.nurture_notes.not_allowed": {
        "nl": "Alleen de eigenaar van de lead, diens manager of een beheerder kan de notities vastleggen.",
        "en": "Only the lead's owner, the owner's manager or an admin can record the notes.",
    },
    "sla.nurture_notes.done": {"nl": "Notities opgeslagen. :white_check_mark:", "en": "Notes saved. :white_check_mark:"},
    "sla.nurture_notes.wrong_stage": {
        "nl": "Deze lead is niet meer in nurture; de notities horen nu bij de nieuwe fase.",
        "en": "This lead is no longer in nurture; notes now belong to its new stage.",
    },
    "sla.auto_reassigned.old_rep": {
        "nl": "*{company}* is automatisch overgedragen aan {new_rep}, omdat de deadline verstreek voor: {task}.",
        "en": "*{company}* was reassigned to {new_rep} automatically, because the deadline to {task} passed.",
    },
    "sla.auto_reassigned.manager": {
        "nl": "*{company}* is automatisch overgedragen van {old_rep} aan {new_rep}; de deadline verstreek voor: {task}.",
        "en": "*{company}* was reassigned from {old_rep} to {new_rep} automatically: the deadline to {task} passed.",
    },
    "sla.auto_reassigned.card_note": {
        "nl": "Automatisch overgedragen aan {rep} na een verlopen SLA.",
        "en": "Reassigned to {rep} automatically after a breached SLA.",
    },
    "sla.paused_header": {"nl": "*Gepauzeerd* · {count}", "en": "*Paused* · {count}"},
    "sla.paused_line": {
        "nl": ":double_vertical_bar: {rep} · *{company}* · {task} · sinds {since} · {reason}",
        "en": ":double_vertical_bar: {rep} · *{company}* · {task} · since {since} · {reason}",
    },
    "lead.pauses": {
        "nl": "*Pauzes* ({count}, samen {total} werktijd)",
        "en": "*Pauses* ({count}, {total} of working time in all)",
    },
    "lead.pause_line": {
        "nl": "{when} · {task} · {reason} · {actor} · {duration}",
        "en": "{when} · {task} · {reason} · {actor} · {duration}",
    },
    "lead.pause_open": {"nl": "loopt nog", "en": "still paused"},
}
