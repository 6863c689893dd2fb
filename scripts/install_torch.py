"""Install torch 2.13.0, the CPU build, with the pip of the Python that runs this script.

``scripts/install`` runs it with ``.venv/bin/python`` before anything else is installed, so it uses
the standard library only. What it does:

* torch 2.13.0 is installed already (any build: ``2.13.0+cpu`` too): nothing.
* pip's own configuration (a mirror, a folder of wheels in ``PIP_FIND_LINKS``) already offers the
  CPU build (a dry run of ``pip install`` reports a ``+cpu`` version): that, and no probe of the
  index below, so a machine set up with the CPU wheel sends no request beyond its configuration.
* Linux: PyPI's torch wheel for Linux x86_64 pulls the CUDA libraries (several GB), so torch
  comes from PyTorch's CPU wheel index: ``pip install --index-url https://download.pytorch.org/whl/cpu
  torch==2.13.0``, if a HEAD request to that index answers within a few seconds
  (``NEWSDESK_TORCH_PROBE_TIMEOUT_S``, default 5; DNS included: the probe runs in a thread that
  is abandoned at the deadline). If it does not, a message says so and plain
  ``pip install torch==2.13.0`` follows, which uses pip's own configuration: a mirror, or a
  folder holding the CPU wheel (``PIP_FIND_LINKS``), keeps the CUDA build out; only the public
  index would pull it.
* elsewhere (macOS, Windows): plain ``pip install torch==2.13.0``; PyPI's wheels there are CPU
  builds.

``NEWSDESK_TORCH_INDEX`` names another CPU wheel index (a mirror), or ``off`` to skip the index
and its probe; ``NEWSDESK_TORCH_PIP`` is the pip command (default: this Python's ``-m pip``),
which the tests replace by a stub that records its arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Plan:
    """What to run: pip's ``install`` arguments (None: nothing to install) and why, for the log."""

    install: list[str] | None
    message: str


def choose(
    platform: str,
    installed: str | None,
    configured: Callable[[], str | None],
    index: str,
    probe: Callable[[str], str | None],
) -> Plan:
    """The install for this machine; ``configured()`` is the version pip's own configuration would
    install (None when unknown), ``probe(url)`` None when the index answers, else why not."""
    wanted = f"torch=={TORCH_VERSION}"
    if installed is not None and installed.split("+")[0] == TORCH_VERSION:
        return Plan(None, f"torch {installed} is installed already: nothing to do")
    if not platform.startswith("linux"):
        return Plan([wanted], f"installing {wanted} from the configured index (CPU builds on {platform})")
    offered = configured()
    if offered is not None and offered.endswith("+cpu"):
        return Plan([wanted], f"installing torch {offered}, the CPU build pip's configuration offers")
    if index.lower() in ("", "off", "none"):
        return Plan([wanted], f"installing {wanted} as pip is configured (NEWSDESK_TORCH_INDEX={index})")
    trouble = probe(index)
    if trouble is None:
        return Plan(["--index-url", index, wanted], f"installing {wanted}, the CPU build, from {index}")
    return Plan(
        [wanted],
        f"PyTorch's CPU wheel index {index} is not reachable ({trouble}); installing {wanted} as pip "
        "is configured instead. From the public index alone that is the CUDA build (several GB) on "
        "Linux x86_64: to avoid it, point PIP_FIND_LINKS at a folder holding the CPU wheel, or "
        "NEWSDESK_TORCH_INDEX at a reachable mirror of the CPU index, and run scripts/install again",
    )


def probe_index(url: str, timeout_s: float) -> str | None:
    """None when a HEAD request to the index's torch page (what pip reads) answers below 400 within
    ``timeout_s``; else why not."""
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            request = urllib.request.Request(url.rstrip("/") + "/torch/", method="HEAD")  # noqa: S310
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                outcome.append(None if response.status < 400 else f"HTTP {response.status}")
        except Exception as exc:  # any failure means: do not use it
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return outcome[0] if outcome else f"no answer within {timeout_s:g} s"


def installed_version(pip: Sequence[str]) -> str | None:
    """The installed torch's version, from ``pip show torch`` (None when it is not installed)."""
    shown = subprocess.run([*pip, "show", "torch"], capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        return None
    versions = [
        line.split(":", 1)[1].strip() for line in shown.stdout.splitlines() if line.startswith("Version:")
    ]
    return versions[0] if versions else None


def configured_version(pip: Sequence[str], timeout_s: float = 300.0) -> str | None:
    """The torch version pip's own configuration would install, from a dry run's report (nothing is
    downloaded but metadata); None when pip cannot tell."""
    wanted = f"torch=={TORCH_VERSION}"
    command = [*pip, "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet", "--report", "-"]
    try:
        done = subprocess.run([*command, wanted], capture_output=True, text=True, timeout=timeout_s)
        report = json.loads(done.stdout)
        return str(report["install"][0]["metadata"]["version"])
    except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError, TypeError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="install the CPU build of torch (see the module doc)")
    parser.add_argument("--quiet", action="store_true", help="pass --quiet to pip install")
    parser.add_argument("--platform", default=sys.platform, help="as sys.platform (default: this one)")
    args = parser.parse_args(argv)
    pip = shlex.split(os.environ.get("NEWSDESK_TORCH_PIP", "")) or [sys.executable, "-m", "pip"]
    index = os.environ.get("NEWSDESK_TORCH_INDEX", CPU_INDEX)
    timeout_s = float(os.environ.get("NEWSDESK_TORCH_PROBE_TIMEOUT_S", PROBE_TIMEOUT_S))
    plan = choose(
        args.platform,
        installed_version(pip),
        lambda: configured_version(pip),
        index,
        lambda url: probe_index(url, timeout_s),
    )
    print(f"scripts/install: {plan.message}", file=sys.stderr)
    if plan.install is None:
        return 0
    return subprocess.run([*pip, "install", *(["--quiet"] if args.quiet else []), *plan.install]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
