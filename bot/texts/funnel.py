"""Texts of /funnel filters, help and the comparison with the previous period."""

TEXTS: dict[str, dict[str, str]] = {
    "funnel.help": {
        "nl": "*`/funnel [periode] [filters]`*\n"
              "Periode: `week` (standaard), `vorige-week`, `maand`, `kwartaal` of `JJJJ-MM-DD..JJJJ-MM-DD`.\n"
              "Filters: `bron=<bron>`, `team=<team-id>`, `rep=<@gebruiker of e-mail>`.\n"
              "Voorbeeld: `/funnel maand bron=webinar team=benelux-nl`\n"
              "Het cohort van een periode zijn de leads die in die periode voor het eerst MQL werden. "
              "Acceptatie = geaccepteerd / (geaccepteerd + afgewezen); wachtende leads staan als open.",
        "en": "*`/funnel [period] [filters]`*\n"
              "Period: `week` (default), `last-week`, `month`, `quarter` or `YYYY-MM-DD..YYYY-MM-DD`.\n"
              "Filters: `source=<source>`, `team=<team id>`, `rep=<@user or e-mail>`.\n"
              "Example: `/funnel month source=webinar team=benelux-nl`\n"
              "A period's cohort is the leads that first became an MQL in it. "
              "Acceptance = accepted / (accepted + rejected); leads still waiting show as open.",
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
        "nl": "Vorige periode: {mqls} MQL's ({mql_change}), acceptatie {rate} ({rate_change})",
        "en": "Previous period: {mqls} MQLs ({mql_change}), acceptance {rate} ({rate_change})",
    },
    "funnel.points": {"nl": "{sign}{points} procentpunt", "en": "{sign}{points} percentage points"},
    "funnel.sal_to_sql": {
        "nl": "{light} *SAL→SQL:* {rate} (doel {target}) · {sqls} SQL's",
        "en": "{light} *SAL→SQL:* {rate} (target {target}) · {sqls} SQLs",
    },
    "funnel.mql_to_sql": {"nl": "*MQL→SQL:* {rate}", "en": "*MQL→SQL:* {rate}"},
    "funnel.mql_to_won": {"nl": "*MQL→gewonnen:* {rate} ({won} gewonnen)", "en": "*MQL→won:* {rate} ({won} won)"},
    "funnel.reengagement": {
        "nl": "*Nurture-heractivering:* {rate} ({reengaged} van {rescored} opnieuw MQL op hun datum)",
        "en": "*Nurture re-engagement:* {rate} ({reengaged} of {rescored} MQL again on their date)",
    },
    "funnel.no_change": {"nl": "gelijk", "en": "no change"},
}
