"""Counted nouns with their plural forms, for texts that contain more than one count.

A text with one count carries its own plural forms. A text with two takes
each count as a fragment from here, rendered with `t(language, key, count=n)`.
"""

from bot.texts import TextEntry

TEXTS: dict[str, TextEntry] = {
    "count.mqls": {
        "nl": {"one": "{count} MQL", "other": "{count} MQL's"},
        "en": {"one": "{count} MQL", "other": "{count} MQLs"},
    },
    "count.sqls": {
        "nl": {"one": "{count} SQL", "other": "{count} SQL's"},
        "en": {"one": "{count} SQL", "other": "{count} SQLs"},
    },
    "count.leads": {
        "nl": {"one": "{count} lead", "other": "{count} leads"},
        "en": {"one": "{count} lead", "other": "{count} leads"},
    },
    "count.accepted_leads": {
        "nl": {"one": "{count} geaccepteerde lead", "other": "{count} geaccepteerde leads"},
        "en": {"one": "{count} accepted lead", "other": "{count} accepted leads"},
    },
    "count.contact_attempts": {
        "nl": {"one": "{count} poging", "other": "{count} pogingen"},
        "en": {"one": "{count} attempt", "other": "{count} attempts"},
    },
    "count.sla_breaches": {
        "nl": {"one": "{count} SLA-overschrijding", "other": "{count} SLA-overschrijdingen"},
        "en": {"one": "{count} SLA breach", "other": "{count} SLA breaches"},
    },
}
