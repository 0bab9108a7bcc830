"""Catalogs of user-facing texts, one module per feature, each with a `TEXTS` dict.

Every entry maps a key to its Dutch ("nl") and English ("en") text; the
modules are merged at import, and a key defined twice is an error.

A text whose noun changes with a number contains plural forms in place of
a string. Each language maps every CLDR plural category of that language
("one" and "other" for Dutch and English) to a template, and `bot.i18n.t`
picks one by the value `count`. A text with two such numbers takes each as
an already rendered fragment from a plural text of its own ("count.mqls").
"""

from __future__ import annotations

import importlib
import pkgutil

# A plain template, or plural forms: CLDR plural category ("one", "other") to template.
Text = str | dict[str, str]
# Language ("nl", "en") to its text.
TextEntry = dict[str, Text]


def load_texts() -> dict[str, TextEntry]:
    """Merge the `TEXTS` of every module in this package; raise on a key defined twice."""
    merged: dict[str, TextEntry] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for key, entry in getattr(module, "TEXTS", {}).items():
            if key in merged:
                raise ValueError(f"text key {key!r} is defined twice; the second is in bot.texts.{module_info.name}")
            merged[key] = entry
    return merged
