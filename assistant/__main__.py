"""``python -m assistant`` runs the ``newsdesk`` command line."""

from assistant.frontends.cli.main import main

raise SystemExit(main())
