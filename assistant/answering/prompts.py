"""Prompt templates: text files in ``prompts/`` with named ``{variables}``, loaded by name.

``prompts/`` is a package of data files, so the templates are found the same way in a source
tree, an editable install and an installed wheel (``importlib.resources``).
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources

from assistant.core.errors import ConfigError

PROMPTS_PACKAGE = "prompts"


@lru_cache(maxsize=32)
def load_prompt(name: str, package: str = PROMPTS_PACKAGE) -> str:
    """The template ``prompts/NAME.txt``; ConfigError when it does not exist."""
    path = resources.files(package).joinpath(f"{name}.txt")
    if not path.is_file():
        raise ConfigError(f"prompt template {name!r} not found at {path}")
    return path.read_text(encoding="utf-8")


def variables(template: str) -> set[str]:
    """The named variables of a template."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, **values: str) -> str:
    """Fill a template; every variable must be given (ConfigError names the missing ones)."""
    template = load_prompt(name)
    missing = variables(template) - set(values)
    if missing:
        raise ConfigError(f"prompt {name!r} needs values for {sorted(missing)}")
    return template.format(**values)
