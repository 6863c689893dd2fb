"""The Newsdesk web app: ``python app.py`` serves it (as ``newsdesk serve``); ``create_app`` builds it.

Everything lives in the package (:mod:`assistant.server`); this file only names the two entry points.
"""

from assistant.frontends.cli.main import serve_main as main
from assistant.server import create_app

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    main()
