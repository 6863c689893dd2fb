"""Names of the world's larger cities (``cities.txt``, made by scripts/make_cities.py from GeoNames),
read on first use: a capitalised name that is one of them is a place, not a person."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def city_names() -> frozenset[str]:
    text = (resources.files("assistant.text") / "cities.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#")


def is_city(name: str) -> bool:
    """Whether ``name`` is a city's name: its words up to the first lowercase one ("Damascus",
    "Addis Ababa", "Damascus on Monday"; not "Lloyd Austin" or "Damascus University")."""
    lead: list[str] = []
    for word in name.split():
        if not word[:1].isupper():
            break
        lead.append(word.lower())
    return " ".join(lead) in city_names()
