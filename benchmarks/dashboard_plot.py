"""A picture of the main series of the dashboard (docs/grafana-newsdesk.json), plotted from the same
queries over a Prometheus' HTTP API (``/api/v1/query_range``): docs/observability-run.png is the
load run of tests/assistant/frontends/http/test_observability_served.py, made with

    NEWSDESK_DASHBOARD_PNG=docs/observability-run.png .venv/bin/python -m pytest -q \\
        tests/assistant/frontends/http/test_observability_served.py

or, against any Prometheus scraping Newsdesk:

    .venv/bin/python -m benchmarks.dashboard_plot --prometheus http://127.0.0.1:9090 \\
        [--dashboard docs/grafana-newsdesk.json] [--minutes 5] [--out docs/observability-run.png]

``$__rate_interval`` becomes ``--rate`` (default 30s). Needs matplotlib (the dev extra).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx

MAIN_PANELS = (
    "Requests by route",
    "Answers by mode",
    "Ask latency p95 by stage",
    "Ingested articles by result",
    "Feed syncs by result",
    "Archive size",
    "Store calls by operation",
    "Rate-limit refusals",
    "Refused and failed requests by status",
)


def series(prometheus: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": step},
        timeout=30,
    ).json()
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {answer}")
    found: list[dict[str, Any]] = answer["data"]["result"]
    return found


def legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for name, value in labels.items():
        text = text.replace("{{" + name + "}}", value)
    return text.replace("{{", "").replace("}}", "").strip() or "value"


def plot(prometheus: str, dashboard: Path, out: Path, minutes: float = 5.0, rate: str = "30s") -> None:
    """Plot the main panels over the last ``minutes`` into ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        p for p in json.loads(dashboard.read_text(encoding="utf-8"))["panels"] if p["title"] in MAIN_PANELS
    ]
    end = time.time()
    start = end - minutes * 60
    columns = 3
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(15, 3.6 * rows), squeeze=False)
    drawn = [(panel, _lines(prometheus, panel, start, end, rate)) for panel in panels]
    first = min((x for _, lines in drawn for _, xs, _ in lines for x in xs[:1]), default=start)
    for ax, (panel, lines) in zip(axes.flat, drawn):
        for label, xs, ys in lines:
            ax.plot([x - first for x in xs], ys, label=label)
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("seconds into the run", fontsize=8)
        ax.tick_params(labelsize=8)
        if lines:
            ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    figure.suptitle("Newsdesk: the dashboard's main series during the test's load run", fontsize=12)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=80)
    plt.close(figure)


def _lines(
    prometheus: str, panel: dict[str, Any], start: float, end: float, rate: str
) -> list[tuple[str, list[float], list[float]]]:
    """(legend, times, values) of each series of a panel's queries."""
    lines = []
    for target in panel["targets"]:
        expr = target["expr"].replace("$__rate_interval", rate)
        for found in series(prometheus, expr, start, end, 1.0):
            points = [(float(t), float(v)) for t, v in found["values"] if v not in ("NaN", "+Inf", "-Inf")]
            if points:
                label = legend(target.get("legendFormat", ""), found["metric"])
                lines.append((label, [t for t, _ in points], [v for _, v in points]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prometheus", required=True, help="base URL of Prometheus' HTTP API")
    parser.add_argument("--dashboard", type=Path, default=Path("docs/grafana-newsdesk.json"))
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", default="30s", help="what $__rate_interval becomes")
    parser.add_argument("--out", type=Path, default=Path("docs/observability-run.png"))
    args = parser.parse_args()
    plot(args.prometheus, args.dashboard, args.out, args.minutes, args.rate)
    print(json.dumps({"out": str(args.out)}))


if __name__ == "__main__":
    main()
