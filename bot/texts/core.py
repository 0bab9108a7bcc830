"""Texts of the lead card, reminders, escalations, errors and /funnel."""

from bot.texts import TextEntry

# One entry per text: Dutch first, then English. Placeholders use str.format names.
TEXTS: dict[str, TextEntry] = {
    # Lead card
    "card.title": {"nl": "Nieuwe MQL: {company}", "en": "New MQL: {company}"},
    "card.fallback": {
        "nl": "Nieuwe MQL voor jou: {company} ({source}). Beslis vóór {deadline}.",
        "en": "New MQL for you: {company} ({source}). Decide by {deadline}.",
    },
    "card.decided_fallback": {
        "nl": "{company}: {decision} door {user} op {when}.",
        "en": "{company}: {decision} by {user} on {when}.",
    },
    "card.person": {"nl": "Contact", "en": "Contact"},
    "card.company": {"nl": "Bedrijf", "en": "Company"},
    "card.source": {"nl": "Bron", "en": "Source"},
    "card.country": {"nl": "Land", "en": "Country"},
    "card.employees": {"nl": "Medewerkers", "en": "Employees"},
    "card.score": {"nl": "Leadscore", "en": "Lead score"},
    "card.why": {"nl": "*Waarom dit een MQL is*", "en": "*Why this is an MQL*"},
    "card.fit": {"nl": "Fit", "en": "Fit"},
    "card.engagement": {"nl": "Engagement", "en": "Engagement"},
    "card.deadline": {
        "nl": ":alarm_clock: Accepteer of wijs af vóór *{deadline}* ({zone}).",
        "en": ":alarm_clock: Accept or reject by *{deadline}* ({zone}).",
    },
    "card.routing": {"nl": "Toegewezen: {reason}", "en": "Assigned: {reason}"},
    "card.accept": {"nl": "Accepteren", "en": "Accept"},
    "card.reject_placeholder": {"nl": "Afwijzen met reden…", "en": "Reject with reason…"},
    "card.accepted": {
        "nl": ":white_check_mark: *Geaccepteerd* door {user} op {when}. De lead is nu een SAL.",
        "en": ":white_check_mark: *Accepted* by {user} on {when}. The lead is now a SAL.",
    },
    "card.accepted_earlier": {
        "nl": ":white_check_mark: Geaccepteerd door {user} op {when}.",
        "en": ":white_check_mark: Accepted by {user} on {when}.",
    },
    "card.rejected": {
        "nl": ":x: *Afgewezen* door {user} op {when}: {reason}. Vervolg: {next_action}.",
        "en": ":x: *Rejected* by {user} on {when}: {reason}. Next: {next_action}.",
    },
    "card.decision.accepted": {"nl": "geaccepteerd", "en": "accepted"},
    "card.decision.rejected": {"nl": "afgewezen", "en": "rejected"},
    "card.truncated": {"nl": "… (ingekort)", "en": "… (truncated)"},
    "card.unknown": {"nl": "onbekend", "en": "unknown"},
    # Criteria names
    "criterion.employees": {"nl": "Medewerkers", "en": "Employees"},
    "criterion.annual_revenue": {"nl": "Jaaromzet", "en": "Annual revenue"},
    "criterion.industry": {"nl": "Branche", "en": "Industry"},
    "criterion.country": {"nl": "Land", "en": "Country"},
    "criterion.job_title": {"nl": "Functie", "en": "Job title"},
    "criterion.department": {"nl": "Afdeling", "en": "Department"},
    "criterion.seniority": {"nl": "Senioriteit", "en": "Seniority"},
    "criterion.lead_score": {"nl": "Leadscore", "en": "Lead score"},
    "criterion.visited_pricing": {"nl": "Prijspagina bezocht", "en": "Visited pricing page"},
    "criterion.requested_demo": {"nl": "Demo aangevraagd", "en": "Requested a demo"},
    "criterion.asset_downloads": {"nl": "Downloads", "en": "Asset downloads"},
    "criterion.recent_activity": {"nl": "Laatste activiteit", "en": "Last activity"},
    "criterion.expected": {"nl": "verwacht {expected}", "en": "expected {expected}"},
    "criterion.recent_expected": {
        "nl": {"one": "hooguit {count} dag geleden", "other": "hooguit {count} dagen geleden"},
        "en": {"one": "at most {count} day ago", "other": "at most {count} days ago"},
    },
    "common.yes": {"nl": "ja", "en": "yes"},
    "common.no": {"nl": "nee", "en": "no"},
    # Rejection reasons (DOMAIN terms)
    "reason.incorrect_fit": {"nl": "Onjuiste fit", "en": "Incorrect fit"},
    "reason.bad_contact_data": {"nl": "Slechte contactgegevens", "en": "Bad contact data"},
    "reason.competitor": {"nl": "Concurrent", "en": "Competitor"},
    "reason.not_decision_maker": {"nl": "Geen beslisser", "en": "Not a decision maker"},
    "reason.no_budget_timing": {"nl": "Geen budget/timing", "en": "No budget / timing"},
    "reason.duplicate": {"nl": "Dubbel record", "en": "Duplicate record"},
    "reason.other": {"nl": "Anders", "en": "Other"},
    "next.archive": {"nl": "gearchiveerd", "en": "archived"},
    "next.reroute": {"nl": "doorgestuurd naar {rep}", "en": "rerouted to {rep}"},
    "next.reroute_pending": {"nl": "opnieuw toewijzen", "en": "reroute"},
    "next.nurture": {"nl": "terug naar nurture tot {date}", "en": "back to nurture until {date}"},
    # Routing reasons
    "routing.owner": {"nl": "eigenaar in het CRM", "en": "owner in the CRM"},
    "routing.territory": {"nl": "round-robin in team {team}", "en": "round-robin in team {team}"},
    "routing.fallback": {"nl": "geen team voor dit gebied, standaardeigenaar", "en": "no team for this territory, fallback owner"},
    "routing.reroute": {"nl": "doorgestuurd na afwijzing", "en": "rerouted after a rejection"},
    # Reminders and escalations
    "reminder.text": {
        "nl": ":hourglass_flowing_sand: Herinnering: {task} vóór *{deadline}*.",
        "en": ":hourglass_flowing_sand: Reminder: {task} by *{deadline}*.",
    },
    "reminder.fallback": {
        "nl": "Herinnering: {task} vóór {deadline}.",
        "en": "Reminder: {task} by {deadline}.",
    },
    "escalation.text": {
        "nl": ":rotating_light: SLA verlopen: {rep} moest vóór {deadline}: {task}.",
        "en": ":rotating_light: SLA breached: {rep} had until {deadline} to {task}.",
    },
    "escalation.fallback": {
        "nl": "SLA verlopen: {rep} moest vóór {deadline}: {task}.",
        "en": "SLA breached: {rep} had until {deadline} to {task}.",
    },
    "clock.decision": {"nl": "*{company}* accepteren of afwijzen", "en": "accept or reject *{company}*"},
    "clock.first_contact": {"nl": "eerste contactpoging met *{company}*", "en": "make a first contact attempt with *{company}*"},
    "clock.cadence": {"nl": "alle contactpogingen met *{company}* doen", "en": "complete the contact attempts with *{company}*"},
    "clock.discovery_scheduled": {"nl": "discovery met *{company}* plannen", "en": "schedule discovery with *{company}*"},
    "clock.discovery_completed": {"nl": "discovery met *{company}* afronden", "en": "complete discovery with *{company}*"},
    "clock.sql_decision": {"nl": "SQL-beslissing over *{company}* nemen", "en": "decide whether *{company}* is an SQL"},
    "escalation.step": {"nl": "Escalatiestap {step}", "en": "Escalation step {step}"},
    # Errors and ephemeral messages
    "action.already_handled": {
        "nl": "Deze lead is al behandeld door {user} ({stage}).",
        "en": "This lead was already handled by {user} ({stage}).",
    },
    "action.not_allowed": {
        "nl": "Alleen {allowed} of een beheerder mag deze lead wijzigen.",
        "en": "Only {allowed} or an admin may change this lead.",
    },
    "action.lead_not_found": {"nl": "Deze lead bestaat niet: hij is nooit opgeslagen of is gewist.",
                              "en": "This lead does not exist: it was never stored or has been erased."},
    "action.failed": {
        "nl": "Er ging iets mis (referentie {ref}). Probeer het opnieuw of vraag je beheerder.",
        "en": "Something went wrong (reference {ref}). Try again or ask your admin.",
    },
    # /funnel
    "funnel.title": {"nl": "Funnel {period}", "en": "Funnel {period}"},
    "funnel.fallback": {
        "nl": {"one": "Funnel {period}: {count} MQL · acceptatie {rate}",
               "other": "Funnel {period}: {count} MQL's · acceptatie {rate}"},
        "en": {"one": "Funnel {period}: {count} MQL · acceptance {rate}",
               "other": "Funnel {period}: {count} MQLs · acceptance {rate}"},
    },
    "funnel.volume": {"nl": "*MQL-volume per bron* (totaal {total})", "en": "*MQL volume per source* (total {total})"},
    "funnel.acceptance": {
        "nl": "{light} *MQL→SAL-acceptatie:* {rate} (doel {target}) · {accepted} geaccepteerd, {rejected} afgewezen, {pending} open",
        "en": "{light} *MQL→SAL acceptance:* {rate} (target {target}) · {accepted} accepted, {rejected} rejected, {pending} open",
    },
    "funnel.reasons": {"nl": "*Afwijsredenen*", "en": "*Rejection reasons*"},
    "funnel.no_rejections": {"nl": "Geen afwijzingen in deze periode.", "en": "No rejections in this period."},
    "funnel.no_mqls": {"nl": "Geen MQL's in deze periode.", "en": "No MQLs in this period."},
    "funnel.no_rate": {"nl": "n.v.t.", "en": "n/a"},
    "funnel.period.this_week": {"nl": "deze week", "en": "this week"},
    "funnel.period.last_week": {"nl": "vorige week", "en": "last week"},
    "funnel.period.this_month": {"nl": "deze maand", "en": "this month"},
    "funnel.period.this_quarter": {"nl": "dit kwartaal", "en": "this quarter"},
    "funnel.period.range": {"nl": "{start} t/m {end}", "en": "{start} to {end}"},
    "funnel.bad_period": {
        "nl": "Onbekende periode `{value}`. Gebruik week, vorige-week, maand, kwartaal of JJJJ-MM-DD..JJJJ-MM-DD.",
        "en": "Unknown period `{value}`. Use week, last-week, month, quarter or YYYY-MM-DD..YYYY-MM-DD.",
    },
    "funnel.bad_period.invalid_date": {
        "nl": "Periode `{value}` bevat een dag die niet bestaat. Schrijf beide dagen als JJJJ-MM-DD.",
        "en": "Period `{value}` contains a day that does not exist. Write both days as YYYY-MM-DD.",
    },
    "funnel.bad_period.reversed": {
        "nl": "Periode `{value}` eindigt voordat hij begint. Zet de vroegste dag eerst.",
        "en": "Period `{value}` ends before it starts. Put the earlier day first.",
    },
    "funnel.bad_period.out_of_range": {
        "nl": "Periode `{value}` valt buiten het bereik. Gebruik jaren van 1900 tot en met 2999.",
        "en": "Period `{value}` is out of range. Use years from 1900 to 2999.",
    },
}
