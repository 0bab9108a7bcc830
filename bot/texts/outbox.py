"""Texts of the alerts that tell the admins about Slack messages the outbox could not deliver."""

# One entry per text: Dutch first, then English. Placeholders use str.format names.
TEXTS: dict[str, dict[str, str]] = {
    "outbox.parked": {
        "nl": (
            ":warning: Een Slack-bericht van de handoff-bot is niet afgeleverd en wacht op een beheerder.\n"
            "*Item:* {item_id} ({kind}{lead}) naar {target}\n"
            "*Fout van Slack:* `{error}`\n"
            "*Wat te doen:* {fix} Stuur het daarna opnieuw met `handoff outbox --retry {item_id}`."
        ),
        "en": (
            ":warning: A Slack message from the handoff bot was not delivered and waits for an admin.\n"
            "*Item:* {item_id} ({kind}{lead}) to {target}\n"
            "*Slack's error:* `{error}`\n"
            "*What to do:* {fix} Then send it again with `handoff outbox --retry {item_id}`."
        ),
    },
    "outbox.lead": {"nl": ", lead {lead_id}", "en": ", lead {lead_id}"},
    "outbox.fix.channel_not_found": {
        "nl": "Controleer of het kanaal nog bestaat en of de handoff-configuratie het goed noemt. "
              "Nodig de bot eerst uit als het een privékanaal is.",
        "en": "Check that the channel still exists and that the handoff configuration names it correctly. "
              "Invite the bot first if it is a private channel.",
    },
    "outbox.fix.not_in_channel": {
        "nl": "Nodig de bot uit in het kanaal met `/invite @Lead Handoff`.",
        "en": "Invite the bot to the channel with `/invite @Lead Handoff`.",
    },
    "outbox.fix.users_not_found": {
        "nl": "Controleer het Slack-lid-ID (U…) van deze persoon in de handoff-configuratie.",
        "en": "Check this person's Slack member ID (U…) in the handoff configuration.",
    },
    "outbox.fix.invalid_blocks": {
        "nl": "Het bericht overschrijdt een Block Kit-limiet; dat is een fout in de bot. "
              "Meld het itemnummer aan de ontwikkelaars: het log noemt het veld.",
        "en": "The message breaks a Block Kit limit, which is a bug in the bot. "
              "Report the item number to the developers: the log names the field.",
    },
    "outbox.fix.missing_scope": {
        "nl": "De Slack-app mist een recht (scope) dat deze aanroep nodig heeft. Installeer de app opnieuw "
              "met de bijgewerkte `manifest.yml`, zodat Slack de nieuwe rechten toekent.",
        "en": "The Slack app lacks a scope that this call needs. Reinstall the app with the updated "
              "`manifest.yml`, so that Slack grants the new scopes.",
    },
    "outbox.fix.failed": {
        "nl": "Slack nam het bericht niet op tijd aan. Kijk op de statuspagina van Slack en controleer SLACK_BOT_TOKEN.",
        "en": "Slack did not accept the message in time. Check Slack's status page and SLACK_BOT_TOKEN.",
    },
    "outbox.fix.other": {
        "nl": "Zoek de fout op in de Web API-documentatie van Slack en los de oorzaak op.",
        "en": "Look the error up in Slack's Web API documentation and fix its cause.",
    },
}
