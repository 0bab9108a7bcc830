"""Texts of the App Home tab."""

TEXTS: dict[str, dict[str, str]] = {
    "home.title": {"nl": "Jouw leads", "en": "Your leads"},
    "home.team_title": {"nl": "Wachtrij van je team", "en": "Your team's queue"},
    "home.mqls": {"nl": "*Open MQL's* ({count}): accepteren of afwijzen", "en": "*Open MQLs* ({count}): accept or reject"},
    "home.sals": {"nl": "*SAL's* ({count}): volgende stap", "en": "*SALs* ({count}): next step"},
    "home.sqls": {"nl": "*SQL's en opportunities* ({count})", "en": "*SQLs and opportunities* ({count})"},
    "home.none": {"nl": "Niets open. :tada:", "en": "Nothing open. :tada:"},
    "home.mql_line": {"nl": "{mark} *{company}* · {rep} · vóór {deadline}", "en": "{mark} *{company}* · {rep} · by {deadline}"},
    "home.sal_line": {"nl": "{mark} *{company}* · {rep} · {next}", "en": "{mark} *{company}* · {rep} · {next}"},
    "home.next_contact": {"nl": "contact {count}/{target}", "en": "contact {count}/{target}"},
    "home.next_discovery": {"nl": "discovery op {date}", "en": "discovery on {date}"},
    "home.next_schedule": {"nl": "discovery plannen", "en": "schedule discovery"},
    "home.breached": {"nl": ":rotating_light: verlopen", "en": ":rotating_light: breached"},
    "home.more": {"nl": "… en nog {count}", "en": "… and {count} more"},
    "home.language": {
        "nl": "Taal van je berichten: *Nederlands* (of `/handoff taal en`).",
        "en": "Language of your messages: *English* (or `/handoff taal nl`).",
    },
    "home.not_configured": {
        "nl": "Je staat niet in de handoff-configuratie, dus je krijgt geen leads. Vraag RevOps om je toe te voegen.",
        "en": "You are not in the handoff configuration, so you get no leads. Ask RevOps to add you.",
    },
}
