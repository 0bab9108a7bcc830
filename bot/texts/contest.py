"""Texts of rejection notices to marketing and of contesting a rejection."""

TEXTS: dict[str, dict[str, str]] = {
    "contest.notice": {
        "nl": ":leftwards_arrow_with_hook: *{company}* (lead {lead}) afgewezen door {rep}: {reason}.",
        "en": ":leftwards_arrow_with_hook: *{company}* (lead {lead}) rejected by {rep}: {reason}.",
    },
    "contest.notice_note": {"nl": "Toelichting: {note}", "en": "Note: {note}"},
    "contest.button": {"nl": "Betwisten", "en": "Contest"},
    "contest.modal_title": {"nl": "Afwijzing betwisten", "en": "Contest rejection"},
    "contest.comment": {"nl": "Waarom is deze afwijzing onterecht?", "en": "Why is this rejection wrong?"},
    "contest.submit": {"nl": "Betwisten", "en": "Contest"},
    "contest.comment_missing": {"nl": "Geef een toelichting.", "en": "Give a comment."},
    "contest.already": {"nl": "Deze afwijzing is al betwist.", "en": "This rejection was already contested."},
    "contest.not_latest": {
        "nl": "Deze lead is sindsdien veranderd; deze afwijzing kan niet meer betwist worden.",
        "en": "This lead changed since; this rejection can no longer be contested.",
    },
    "contest.opened": {
        "nl": ":speech_balloon: {user} betwist de afwijzing van *{company}* (lead {lead}): {comment}",
        "en": ":speech_balloon: {user} contests the rejection of *{company}* (lead {lead}): {comment}",
    },
    "contest.for_manager": {
        "nl": ":scales: Marketing betwist een afwijzing door {rep}.\n*{company}* (lead {lead}), reden: {reason}.\n"
              "Betwist door {user}: {comment}",
        "en": ":scales: Marketing contests a rejection by {rep}.\n*{company}* (lead {lead}), reason: {reason}.\n"
              "Contested by {user}: {comment}",
    },
    "contest.uphold": {"nl": "Afwijzing handhaven", "en": "Uphold rejection"},
    "contest.overturn": {"nl": "Terugdraaien", "en": "Overturn"},
    "contest.upheld": {
        "nl": ":lock: {user} handhaaft de afwijzing van *{company}* (lead {lead}).",
        "en": ":lock: {user} upholds the rejection of *{company}* (lead {lead}).",
    },
    "contest.overturned": {
        "nl": ":arrows_counterclockwise: {user} draait de afwijzing van *{company}* (lead {lead}) terug; de lead is weer een MQL.",
        "en": ":arrows_counterclockwise: {user} overturns the rejection of *{company}* (lead {lead}); the lead is an MQL again.",
    },
    "contest.ruled_upheld": {
        "nl": "Hierover is al beslist: {user} handhaafde de afwijzing.",
        "en": "This was already ruled on: {user} upheld the rejection.",
    },
    "contest.ruled_overturned": {
        "nl": "Hierover is al beslist: {user} draaide de afwijzing terug.",
        "en": "This was already ruled on: {user} overturned the rejection.",
    },
    "contest.manager_only": {
        "nl": "Alleen de manager van de rep of een beheerder beslist over een betwiste afwijzing.",
        "en": "Only the rep's manager or an admin rules on a contested rejection.",
    },
    "routing.contest_overturned": {"nl": "afwijzing teruggedraaid", "en": "rejection overturned"},
}
