"""Texts of re-engagement."""

TEXTS: dict[str, dict[str, str]] = {
    "nurture.not_requalified": {
        "nl": ":seedling: {company} (lead {lead}) is op de nieuwe datum opnieuw beoordeeld maar is nog geen MQL; "
              "niet gehaald: {criteria}. De lead blijft in nurture.",
        "en": ":seedling: {company} (lead {lead}) was scored again on its date but is not an MQL yet; "
              "failed: {criteria}. The lead stays in nurture.",
    },
}
