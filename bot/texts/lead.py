"""Texts of /lead and /handoff."""

from bot.texts import TextEntry

TEXTS: dict[str, TextEntry] = {
    "lead.title": {"nl": "Lead {id}: {company}", "en": "Lead {id}: {company}"},
    "lead.fallback": {"nl": "Lead {id}: {company}, fase {stage}.", "en": "Lead {id}: {company}, stage {stage}."},
    "lead.stage": {"nl": "Fase", "en": "Stage"},
    "lead.owner": {"nl": "Eigenaar", "en": "Owner"},
    "lead.deadline": {"nl": "Beslissen vóór", "en": "Decide by"},
    "lead.nurture_until": {"nl": "Nurture tot", "en": "Nurture until"},
    "lead.rejection": {"nl": "Afwijsreden", "en": "Rejection reason"},
    "lead.delay": {"nl": "Wachttijd MQL", "en": "MQL wait"},
    "lead.history": {
        "nl": {"one": "*Geschiedenis* ({count} stap)", "other": "*Geschiedenis* ({count} stappen)"},
        "en": {"one": "*History* ({count} step)", "other": "*History* ({count} steps)"},
    },
    "lead.history_more": {
        "nl": {"one": "… en nog {count} eerdere stap", "other": "… en nog {count} eerdere stappen"},
        "en": {"one": "… and {count} earlier step", "other": "… and {count} earlier steps"},
    },
    # Why a lead moved, by the reason code of its history row (`LeadTransition.reason`).
    "lead.reason.created": {"nl": "aangemaakt", "en": "created"},
    "lead.reason.qualified": {"nl": "voldoet aan de MQL-criteria", "en": "meets the MQL criteria"},
    "lead.reason.not_engaged": {"nl": "te weinig betrokkenheid", "en": "not engaged enough"},
    "lead.reason.accepted": {"nl": "geaccepteerd", "en": "accepted"},
    "lead.reason.discovery_scheduled": {"nl": "discovery gepland", "en": "discovery scheduled"},
    "lead.reason.discovery_completed": {"nl": "discovery afgerond", "en": "discovery completed"},
    "lead.reason.returned_to_nurture": {"nl": "terug naar nurture", "en": "returned to nurture"},
    "lead.reason.nurture_notes_added": {"nl": "discovery-notities toegevoegd", "en": "discovery notes added"},
    "lead.reason.opportunity_created": {"nl": "opportunity aangemaakt", "en": "opportunity created"},
    "lead.reason.won": {"nl": "gewonnen", "en": "won"},
    "lead.reason.lost": {"nl": "verloren", "en": "lost"},
    "lead.reason.reassigned": {"nl": "overgedragen aan een andere rep", "en": "reassigned to another rep"},
    "lead.reason.reengaged": {"nl": "opnieuw betrokken", "en": "re-engaged"},
    "lead.reason.rescored_not_qualified": {"nl": "opnieuw beoordeeld, geen MQL", "en": "re-scored, not an MQL"},
    "lead.reason.contest_overturned": {"nl": "afwijzing herzien", "en": "rejection overturned"},
    "lead.history_line": {
        "nl": "{when} · {from_stage} → {to_stage} · {reason} · {actor}",
        "en": "{when} · {from_stage} → {to_stage} · {reason} · {actor}",
    },
    "lead.not_found": {
        "nl": "Geen lead gevonden voor `{query}`. Gebruik een lead-id (bijv. `/lead 42`) of een e-mailadres.",
        "en": "No lead found for `{query}`. Use a lead id (e.g. `/lead 42`) or an e-mail address.",
    },
    "lead.usage": {
        "nl": "Gebruik: `/lead <lead-id of e-mailadres>`, bijvoorbeeld `/lead 42`.",
        "en": "Usage: `/lead <lead id or e-mail address>`, for example `/lead 42`.",
    },
    "lead.not_allowed": {
        "nl": "Alleen reps, managers en beheerders uit de handoff-configuratie kunnen leads opvragen.",
        "en": "Only the reps, managers and admins of the handoff configuration can look up leads.",
    },
    "lead.more_matches": {
        "nl": "{count} leads gevonden; dit zijn de {shown} nieuwste.",
        "en": "{count} leads found; these are the {shown} newest.",
    },
    "stage.raw": {"nl": "ruwe lead", "en": "raw lead"},
    "stage.nurture": {"nl": "nurture", "en": "nurture"},
    "stage.mql": {"nl": "MQL", "en": "MQL"},
    "stage.sal": {"nl": "SAL", "en": "SAL"},
    "stage.sql": {"nl": "SQL", "en": "SQL"},
    "stage.opportunity": {"nl": "opportunity", "en": "opportunity"},
    "stage.won": {"nl": "gewonnen", "en": "won"},
    "stage.lost": {"nl": "verloren", "en": "lost"},
    "stage.rejected": {"nl": "afgewezen", "en": "rejected"},
    "stage.none": {"nl": "–", "en": "–"},
    "handoff.language_set": {
        "nl": "Je berichten van de bot zijn voortaan in het Nederlands.",
        "en": "The bot's messages to you are in English from now on.",
    },
    "handoff.help": {
        "nl": "*Lead Handoff*\n"
              "• `/handoff taal nl|en`: de taal van je berichten (nu: Nederlands)\n"
              "• `/lead <id of e-mail>`: kaart en geschiedenis van een lead, alleen voor jou\n"
              "• `/funnel [week|vorige-week|maand|kwartaal|JJJJ-MM-DD..JJJJ-MM-DD]`: MQL-volume, acceptatie en afwijsredenen\n"
              "• `/sla`: overschreden en bijna verlopen SLA's per team en rep, alleen voor jou",
        "en": "*Lead Handoff*\n"
              "• `/handoff language nl|en`: the language of your messages (now: English)\n"
              "• `/lead <id or e-mail>`: a lead's card and history, only for you\n"
              "• `/funnel [week|last-week|month|quarter|YYYY-MM-DD..YYYY-MM-DD]`: MQL volume, acceptance and rejection reasons\n"
              "• `/sla`: breached and at-risk SLAs per team and rep, only for you",
    },
    "handoff.unknown": {
        "nl": "Onbekende opdracht `{text}`. {help}",
        "en": "Unknown command `{text}`. {help}",
    },
    "handoff.bad_language": {
        "nl": "Onbekende taal `{value}`. Kies `nl` (Nederlands) of `en` (Engels).",
        "en": "Unknown language `{value}`. Choose `nl` (Dutch) or `en` (English).",
    },
}
