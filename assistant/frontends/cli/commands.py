"""What a ``newsdesk`` subcommand is: a handler of the parsed arguments and the settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from assistant.core.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
