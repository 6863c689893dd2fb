"""The fitted models the package ships (``assistant/models/``: the first pass, the ranker), read as
text from the package or from a folder given instead (a refit not yet copied in)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.core.errors import ConfigError

PACKAGED = "assistant/models"


def model_where(folder: Path | None, name: str) -> str:
    """Where model file ``name`` is read from, as a message names it."""
    return f"{folder if folder is not None else PACKAGED}/{name}"


def model_text(folder: Path | None, name: str, what: str) -> str:
    """The text of model file ``name`` (from ``folder``, else the package's); ConfigError naming
    ``what`` and where when it cannot be read."""
    try:
        if folder is not None:
            return (folder / name).read_text(encoding="utf-8")
        return resources.files("assistant").joinpath("models", name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {model_where(folder, name)}: {exc}") from exc


def fitted_model(
    folder: Path | None, name: str, what: str, features: Sequence[str], given: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON model file ``name`` (or ``given``), refused with a ConfigError when it was fitted on
    other ``features`` than the code computes."""
    model: dict[str, Any] = given if given is not None else json.loads(model_text(folder, name, what))
    if tuple(model.get("features", ())) != tuple(features):
        raise ConfigError(
            f"{what} {model_where(folder, name)} was fitted on other features; "
            "refit it with `python -m assistant.ranker_fit`"
        )
    return model
