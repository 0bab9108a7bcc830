"""Texts of /sla."""

TEXTS: dict[str, dict[str, str]] = {
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
    "sla.hours": {"nl": "{hours} werkuur", "en": "{hours} working hours"},
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
    "escalation.not_allowed": {
        "nl": "Alleen de manager, iemand uit de escalatieketen of een beheerder kan dit bevestigen.",
        "en": "Only the manager, someone in the escalation chain or an admin can acknowledge this.",
    },
    "sla.delay": {
        "nl": "Vertraging: systeem {system}, rep {rep}",
        "en": "Delay: system {system}, rep {rep}",
    },
}
