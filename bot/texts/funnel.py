"""Texts of /funnel filters, help and the comparison with the previous period."""

from bot.texts import TextEntry

TEXTS: dict[str, TextEntry] = {
    "funnel.help": {
        "nl": "*`/funnel [periode] [filters]`*\n"
              "Periode: `week` (standaard, deze week), `vorige-week`, `maand`, `kwartaal` of "
              "`JJJJ-MM-DD..JJJJ-MM-DD` (beide dagen inbegrepen). Weken beginnen op maandag.\n"
              "Filters: `bron=<bron>`, `team=<team-id>`, `rep=<@gebruiker of e-mail>`; combineer ze naar wens.\n"
              "Voorbeeld: `/funnel maand bron=webinar team=benelux-nl`\n"
              "Het cohort van een periode zijn de leads die in die periode voor het eerst MQL werden.\n"
              "• *Acceptatie* = geaccepteerd / (geaccepteerd + afgewezen); wachtende leads staan als open.\n"
              "• *Tijd tot eerste contact*: werkuren (kalender van het team) van MQL tot de eerste contactpoging, "
              "gemiddelde en mediaan over de gecontacteerde leads.\n"
              "• *Contactpogingen per lead*: pogingen op de geaccepteerde leads / geaccepteerde leads.\n"
              "• *SAL→SQL*, *MQL→SQL*, *MQL→gewonnen*: aandeel van de geaccepteerde of alle MQL's dat zo ver kwam.\n"
              "• *Nurture-heractivering*: nurture-leads die op hun datum opnieuw MQL werden / alle die toen "
              "opnieuw gescoord zijn, in de periode.\n"
              "Stoplicht: groen haalt het doel, oranje ligt binnen de marge, rood daarbuiten; doelen staan onder "
              "`targets` in de configuratie. Elke regel toont de vorige periode van gelijke lengte en het verschil.",
        "en": "*`/funnel [period] [filters]`*\n"
              "Period: `week` (default, this week), `last-week`, `month`, `quarter` or "
              "`YYYY-MM-DD..YYYY-MM-DD` (both days included). Weeks start on Monday.\n"
              "Filters: `source=<source>`, `team=<team id>`, `rep=<@user or e-mail>`; combine them as you like.\n"
              "Example: `/funnel month source=webinar team=benelux-nl`\n"
              "A period's cohort is the leads that first became an MQL in it.\n"
              "• *Acceptance* = accepted / (accepted + rejected); leads still waiting show as open.\n"
              "• *Time to first contact*: working hours (the team's calendar) from MQL to the first contact attempt, "
              "average and median over the contacted leads.\n"
              "• *Contact attempts per lead*: attempts on the accepted leads / accepted leads.\n"
              "• *SAL→SQL*, *MQL→SQL*, *MQL→won*: share of the accepted or of all MQLs that got that far.\n"
              "• *Nurture re-engagement*: nurture leads that became an MQL again on their date / all that were "
              "scored again then, in the period.\n"
              "Traffic light: green meets the target, amber is within the band, red is outside it; targets are "
              "under `targets` in the configuration. Every line shows the previous period of the same length "
              "and the change.",
    },
    "funnel.filters": {"nl": "Filters: {filters}", "en": "Filters: {filters}"},
    "funnel.bad_filter": {
        "nl": "Onbekend filter `{value}`. Gebruik `bron=…`, `team=…` of `rep=…`; zie `/funnel help`.",
        "en": "Unknown filter `{value}`. Use `source=…`, `team=…` or `rep=…`; see `/funnel help`.",
    },
    "funnel.unknown_team": {
        "nl": "Onbekend team `{value}`. Teams: {teams}.",
        "en": "Unknown team `{value}`. Teams: {teams}.",
    },
    "funnel.unknown_rep": {
        "nl": "Onbekende rep `{value}`. Gebruik een @vermelding, Slack-ID of e-mailadres uit de configuratie.",
        "en": "Unknown rep `{value}`. Use an @mention, Slack id or e-mail address from the configuration.",
    },
    "funnel.previous": {
        "nl": {"one": "Vorige periode: {count} MQL ({mql_change}), acceptatie {rate} ({rate_change})",
               "other": "Vorige periode: {count} MQL's ({mql_change}), acceptatie {rate} ({rate_change})"},
        "en": {"one": "Previous period: {count} MQL ({mql_change}), acceptance {rate} ({rate_change})",
               "other": "Previous period: {count} MQLs ({mql_change}), acceptance {rate} ({rate_change})"},
    },
    "funnel.points": {"nl": "{sign}{points} procentpunt", "en": "{sign}{points} percentage points"},
    "funnel.sal_to_sql": {
        "nl": {"one": "{light} *SAL→SQL:* {rate} (doel {target}) · {count} SQL",
               "other": "{light} *SAL→SQL:* {rate} (doel {target}) · {count} SQL's"},
        "en": {"one": "{light} *SAL→SQL:* {rate} (target {target}) · {count} SQL",
               "other": "{light} *SAL→SQL:* {rate} (target {target}) · {count} SQLs"},
    },
    "funnel.mql_to_sql": {"nl": "*MQL→SQL:* {rate}", "en": "*MQL→SQL:* {rate}"},
    "funnel.mql_to_won": {"nl": "*MQL→gewonnen:* {rate} ({won} gewonnen)", "en": "*MQL→won:* {rate} ({won} won)"},
    "funnel.reengagement": {
        "nl": "*Nurture-heractivering:* {rate} ({reengaged} van {rescored} opnieuw MQL op hun datum)",
        "en": "*Nurture re-engagement:* {rate} ({reengaged} of {rescored} MQL again on their date)",
    },
    "funnel.no_change": {"nl": "gelijk", "en": "no change"},
    "funnel.section.marketing": {"nl": "*Marketingkwaliteit*", "en": "*Marketing quality*"},
    "funnel.section.sales": {"nl": "*Sales-opvolging*", "en": "*Sales execution*"},
    "funnel.section.joint": {"nl": "*Samen*", "en": "*Joint*"},
    "funnel.line.acceptance": {
        "nl": "{light} *MQL→SAL-acceptatie:* {rate} (doel {target}) · {accepted} geaccepteerd, {rejected} afgewezen, "
              "{pending} open · {previous}",
        "en": "{light} *MQL→SAL acceptance:* {rate} (target {target}) · {accepted} accepted, {rejected} rejected, "
              "{pending} open · {previous}",
    },
    # The noun follows the number of MQLs ("1 van 1 MQL", "1 van 2 MQL's").
    "funnel.line.first_contact": {
        "nl": {"one": "{light} *Tijd tot eerste contact:* gemiddeld {average}, mediaan {median} "
                      "(doel hoogstens {target}) · {contacted} van {count} MQL gecontacteerd · {previous}",
               "other": "{light} *Tijd tot eerste contact:* gemiddeld {average}, mediaan {median} "
                        "(doel hoogstens {target}) · {contacted} van {count} MQL's gecontacteerd · {previous}"},
        "en": {"one": "{light} *Time to first contact:* average {average}, median {median} "
                      "(target at most {target}) · {contacted} of {count} MQL contacted · {previous}",
               "other": "{light} *Time to first contact:* average {average}, median {median} "
                        "(target at most {target}) · {contacted} of {count} MQLs contacted · {previous}"},
    },
    # {attempts} and {accepted} are the fragments count.contact_attempts and count.accepted_leads.
    "funnel.line.attempts": {
        "nl": "{light} *Contactpogingen per lead:* {value} (doel {target}) · {attempts} op {accepted} · {previous}",
        "en": "{light} *Contact attempts per lead:* {value} (target {target}) · {attempts} on {accepted} · {previous}",
    },
    "funnel.line.sal_to_sql": {
        "nl": {"one": "{light} *SAL→SQL:* {rate} (doel {target}) · {count} SQL · {previous}",
               "other": "{light} *SAL→SQL:* {rate} (doel {target}) · {count} SQL's · {previous}"},
        "en": {"one": "{light} *SAL→SQL:* {rate} (target {target}) · {count} SQL · {previous}",
               "other": "{light} *SAL→SQL:* {rate} (target {target}) · {count} SQLs · {previous}"},
    },
    "funnel.line.mql_to_sql": {
        "nl": "{light} *MQL→SQL:* {rate} (doel {target}) · {previous}",
        "en": "{light} *MQL→SQL:* {rate} (target {target}) · {previous}",
    },
    "funnel.line.mql_to_won": {
        "nl": "{light} *MQL→gewonnen:* {rate} ({won} gewonnen) · doel {target} · {previous}",
        "en": "{light} *MQL→won:* {rate} ({won} won) · target {target} · {previous}",
    },
    "funnel.line.reengagement": {
        "nl": "{light} *Nurture-heractivering:* {rate} ({reengaged} van {rescored} opnieuw MQL op hun datum) · "
              "doel {target} · {previous}",
        "en": "{light} *Nurture re-engagement:* {rate} ({reengaged} of {rescored} MQL again on their date) · "
              "target {target} · {previous}",
    },
    "funnel.line.previous": {"nl": "vorige periode {value} ({change})", "en": "previous period {value} ({change})"},
    # Dutch writes "werkuur" after any number, as a unit.
    "funnel.hours": {
        "nl": {"one": "{count} werkuur", "other": "{count} werkuur"},
        "en": {"one": "{count} working hour", "other": "{count} working hours"},
    },
    "funnel.hours_change": {
        "nl": {"one": "{sign}{count} werkuur", "other": "{sign}{count} werkuur"},
        "en": {"one": "{sign}{count} working hour", "other": "{sign}{count} working hours"},
    },
}
