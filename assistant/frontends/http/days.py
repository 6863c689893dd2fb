"""ISO days in requests."""

from __future__ import annotations

import re

ISO_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
