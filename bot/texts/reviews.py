"""Texts of the monthly deep dive, the quarterly criteria review, the criteria backtest and the charts."""

from bot.texts import TextEntry

TEXTS: dict[str, TextEntry] = {
    # Charts
    "chart.stage.mql": {"nl": "MQL", "en": "MQL"},
    "chart.stage.sal": {"nl": "Geaccepteerd", "en": "Accepted"},
    "chart.stage.sql": {"nl": "SQL", "en": "SQL"},
    "chart.stage.won": {"nl": "Gewonnen", "en": "Won"},
    "chart.title.funnel": {"nl": "Funnel: {period}", "en": "Funnel: {period}"},
    "chart.title.reasons": {"nl": "Afwijsredenen: {period}", "en": "Rejection reasons: {period}"},
    "chart.title.acceptance": {"nl": "Acceptatie per week (laatste {weeks})", "en": "Acceptance per week (last {weeks})"},
    "chart.target": {"nl": "doel {rate}", "en": "target {rate}"},
    "chart.acceptance_axis": {"nl": "Acceptatie", "en": "Acceptance"},
    "chart.no_rejections": {"nl": "Geen afwijzingen in deze periode", "en": "No rejections in this period"},
    # {mqls} and {sqls} are the fragments count.mqls and count.sqls.
    "chart.alt.funnel": {
        "nl": "Funnel: {mqls}, {accepted} geaccepteerd, {sqls}, {won} gewonnen.",
        "en": "Funnel: {mqls}, {accepted} accepted, {sqls}, {won} won.",
    },
    "chart.alt.acceptance": {
        "nl": {"one": "Acceptatie per week over {count} week; laatste week {latest}, doel {target}.",
               "other": "Acceptatie per week over {count} weken; laatste week {latest}, doel {target}."},
        "en": {"one": "Acceptance per week over {count} week; latest week {latest}, target {target}.",
               "other": "Acceptance per week over {count} weeks; latest week {latest}, target {target}."},
    },
    "chart.alt.reasons": {"nl": "Afwijsredenen: {reasons}.", "en": "Rejection reasons: {reasons}."},
    # Backtest
    "backtest.key.engagement.min_score": {"nl": "de scoredrempel", "en": "the score threshold"},
    "backtest.key.engagement.min_asset_downloads": {
        "nl": "het minimum aantal downloads", "en": "the minimum number of asset downloads"},
    "backtest.key.engagement.min_actions": {
        "nl": "het minimum aantal koopsignalen", "en": "the minimum number of high-intent actions"},
    "backtest.key.engagement.recent_days": {
        "nl": "de termijn voor recente activiteit (dagen)", "en": "the recent-activity window (days)"},
    "backtest.key.fit.employees.min": {"nl": "de minimale bedrijfsgrootte", "en": "the minimum company size"},
    "backtest.key.fit.employees.max": {"nl": "de maximale bedrijfsgrootte", "en": "the maximum company size"},
    "backtest.key.fit.annual_revenue.min": {"nl": "de minimale jaaromzet", "en": "the minimum annual revenue"},
    "backtest.key.fit.annual_revenue.max": {"nl": "de maximale jaaromzet", "en": "the maximum annual revenue"},
    # {mqls} is the fragment count.mqls, and the bare {before_mqls} shares its noun ("1 MQL instead of 2").
    "backtest.suggestion_raise": {
        "nl": "Verhoog {criterion} van {current} naar {proposed}: de acceptatie was dan {new_rate} geweest "
              "in plaats van {old_rate} op {leads} (n={decided} beslist; {mqls} in plaats van {before_mqls}).",
        "en": "Raise {criterion} from {current} to {proposed}: acceptance would have been {new_rate} "
              "instead of {old_rate} on {leads} (n={decided} decided; {mqls} instead of {before_mqls}).",
    },
    "backtest.suggestion_lower": {
        "nl": "Verlaag {criterion} van {current} naar {proposed}: de acceptatie was dan {new_rate} geweest "
              "in plaats van {old_rate} op {leads} (n={decided} beslist; {mqls} in plaats van {before_mqls}).",
        "en": "Lower {criterion} from {current} to {proposed}: acceptance would have been {new_rate} "
              "instead of {old_rate} on {leads} (n={decided} decided; {mqls} instead of {before_mqls}).",
    },
    "backtest.leads_quarter": {"nl": "de leads van {quarter}", "en": "the leads of {quarter}"},
    "backtest.leads_last_quarter": {"nl": "de leads van vorig kwartaal", "en": "last quarter's leads"},
    "backtest.leads_range": {"nl": "de leads van {first} t/m {last}", "en": "the leads of {first} to {last}"},
    "backtest.current": {"nl": "Huidige criteria", "en": "Current criteria"},
    "backtest.candidate": {"nl": "Nieuwe criteria", "en": "Candidate criteria"},
    # {mqls} and {leads} are the fragments count.mqls and count.leads.
    "backtest.result": {
        "nl": "{label}: {mqls} van {leads}; van de {decided} beslist: acceptatie {acceptance}, gewonnen {wins}",
        "en": "{label}: {mqls} of {leads}; of the {decided} decided: acceptance {acceptance}, won {wins}",
    },
    "backtest.no_suggestions": {
        "nl": "Geen drempelwijziging verhoogt de acceptatie met genoeg beslist leads.",
        "en": "No threshold change raises acceptance with enough decided leads.",
    },
    # Monthly deep dive
    "review.monthly_title": {"nl": "Maandelijkse deep dive: {month}", "en": "Monthly deep dive: {month}"},
    "review.monthly_fallback": {
        "nl": {"one": "Maandelijkse deep dive {month}: {count} MQL, acceptatie {acceptance}.",
               "other": "Maandelijkse deep dive {month}: {count} MQL's, acceptatie {acceptance}."},
        "en": {"one": "Monthly deep dive {month}: {count} MQL, acceptance {acceptance}.",
               "other": "Monthly deep dive {month}: {count} MQLs, acceptance {acceptance}."},
    },
    # In review.funnel_line and review.group_line, {mqls} and {sqls} are the fragments count.mqls and count.sqls.
    "review.funnel_line": {
        "nl": "{mqls} · {accepted} geaccepteerd · {rejected} afgewezen · {pending} open · {sqls} · "
              "{won} gewonnen\nAcceptatie {acceptance} · SAL→SQL {sal_to_sql} · MQL→gewonnen {mql_to_won}",
        "en": "{mqls} · {accepted} accepted · {rejected} rejected · {pending} open · {sqls} · {won} won\n"
              "Acceptance {acceptance} · SAL→SQL {sal_to_sql} · MQL→won {mql_to_won}",
    },
    "review.by_source": {"nl": "*Per bron*", "en": "*By source*"},
    "review.by_campaign": {"nl": "*Per campagne*", "en": "*By campaign*"},
    "review.group_line": {
        "nl": "• *{name}*: {mqls} · acceptatie {acceptance} · {sqls} · {won} gewonnen",
        "en": "• *{name}*: {mqls} · acceptance {acceptance} · {sqls} · {won} won",
    },
    "review.more_groups": {"nl": "… en nog {count}", "en": "… and {count} more"},
    "review.no_mqls": {"nl": "Geen MQL's in deze periode.", "en": "No MQLs in this period."},
    "review.no_campaign": {"nl": "(geen campagne)", "en": "(no campaign)"},
    "review.response_title": {"nl": "*Reactietijden* (in werkuren)", "en": "*Response times* (in working hours)"},
    "review.first_contact": {
        "nl": "Eerste contact: mediaan {median} uur; {within} binnen {limit} uur (n={n})",
        "en": "First contact: median {median} h; {within} within {limit} h (n={n})",
    },
    "review.no_first_contact": {"nl": "Eerste contact: nog geen gegevens.", "en": "First contact: no data yet."},
    "review.decision_time": {
        "nl": "Beslissing accepteren/afwijzen: mediaan {median} uur (n={n})",
        "en": "Accept/reject decision: median {median} h (n={n})",
    },
    "review.score_title": {"nl": "*Werkt de leadscore?* (per scoreband)", "en": "*Does the lead score work?* (by score band)"},
    "review.score_line": {
        "nl": "• Score {band}: {decided} beslist · acceptatie {acceptance} · gewonnen {wins}",
        "en": "• Score {band}: {decided} decided · acceptance {acceptance} · won {wins}",
    },
    "review.cohort_note": {
        "nl": "Cohort: leads die in de periode voor het eerst MQL werden. Gewonnen-percentages zijn per beslist MQL.",
        "en": "Cohort: leads that first became an MQL in the period. Won rates are per decided MQL.",
    },
    # Quarterly criteria review
    "review.quarter_name": {"nl": "K{quarter} {year}", "en": "Q{quarter} {year}"},
    "review.quarterly_title": {"nl": "Kwartaalreview MQL-criteria: {quarter}", "en": "Quarterly criteria review: {quarter}"},
    "review.quarterly_fallback": {
        "nl": "Kwartaalreview MQL-criteria {quarter}; voorgestelde drempelwijzigingen: {suggestions}.",
        "en": "Quarterly criteria review {quarter}; suggested threshold changes: {suggestions}.",
    },
    "review.criteria_title": {
        "nl": "*Per criterium* (beslist MQL's; net gehaald = binnen {margin} van de drempel)",
        "en": "*Per criterion* (decided MQLs; barely = within {margin} of the threshold)",
    },
    "review.criterion_name": {"nl": "*{name}* ({expected})", "en": "*{name}* ({expected})"},
    "review.group_comfortably": {
        "nl": "   ruim gehaald: acceptatie {acceptance} · gewonnen {wins} (n={n})",
        "en": "   passed comfortably: acceptance {acceptance} · won {wins} (n={n})",
    },
    "review.group_barely": {
        "nl": "   net gehaald: acceptatie {acceptance} · gewonnen {wins} (n={n})",
        "en": "   barely passed: acceptance {acceptance} · won {wins} (n={n})",
    },
    "review.group_failed": {
        "nl": "   niet gehaald: acceptatie {acceptance} · gewonnen {wins} (n={n})",
        "en": "   not passed: acceptance {acceptance} · won {wins} (n={n})",
    },
    "review.separators_title": {
        "nl": "*Wat geaccepteerde van afgewezen MQL's scheidt*",
        "en": "*What separates accepted from rejected MQLs*",
    },
    "review.separator_line": {
        "nl": "• {name}: ruim gehaald door {accepted} van de geaccepteerde en {rejected} van de afgewezen MQL's",
        "en": "• {name}: passed comfortably by {accepted} of accepted and {rejected} of rejected MQLs",
    },
    "review.no_separators": {
        "nl": "Geen criterium scheidt ze met 10 procentpunt of meer.",
        "en": "No criterion separates them by 10 percentage points or more.",
    },
    "review.suggestions_title": {"nl": "*Voorstellen*", "en": "*Suggestions*"},
    "review.backtest_hint": {
        "nl": "Probeer zelf een wijziging: `handoff criteria backtest --set engagement.min_score=65`",
        "en": "Try a change yourself: `handoff criteria backtest --set engagement.min_score=65`",
    },
}
