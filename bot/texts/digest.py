"""Texts of the weekly MQL review digest."""

TEXTS: dict[str, dict[str, str]] = {
    "digest.title": {"nl": "Wekelijkse MQL-review: {period}", "en": "Weekly MQL review: {period}"},
    # {mqls} and {breaches} are the fragments count.mqls and count.sla_breaches.
    "digest.fallback": {
        "nl": "Wekelijkse MQL-review: {mqls}, acceptatie {rate}, {breaches}.",
        "en": "Weekly MQL review: {mqls}, acceptance {rate}, {breaches}.",
    },
    "digest.risen": {"nl": "*Afwijsredenen die stegen*", "en": "*Rejection reasons that rose*"},
    "digest.risen_line": {"nl": "• {reason}: {count} (was {before})", "en": "• {reason}: {count} (was {before})"},
    "digest.none_risen": {"nl": "Geen afwijsreden steeg.", "en": "No rejection reason rose."},
    "digest.breaches": {"nl": "*SLA-overschrijdingen open:* {count}", "en": "*Open SLA breaches:* {count}"},
    "digest.waiting": {"nl": "*Wachten op een beslissing* ({count})", "en": "*Waiting for a decision* ({count})"},
    "digest.waiting_line": {"nl": "• *{company}* · {rep} · sinds {since}", "en": "• *{company}* · {rep} · since {since}"},
}
