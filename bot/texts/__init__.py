"""Catalogs of user-facing texts, one module per feature, each with a `TEXTS` dict.

Every entry maps a key to its Dutch ("nl") and English ("en") text; the
modules are merged at import, and a key defined twice is an error.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_texts() -> dict[str, dict[str, str]]:
    """Merge the `TEXTS` of every module in this package; raise on a key defined twice."""
    merged: dict[str, dict[str, str]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for key, entry in getattr(module, "TEXTS", {}).items():
            if key in merged:
                raise ValueError(f"text key {key!r} is defined twice; the second is in bot.texts.{module_info.name}")
            merged[key] = entry
    return merged
