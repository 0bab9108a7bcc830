"""Lead intake: CSV exports and the signed JSON webhook, both producing `LeadInput`."""
