"""The shared core both halves build on: the errors (``errors``), an article and its parts
(``types``), and the settings (``settings``, declared once each in ``sections``). It imports nothing
else of Newsdesk; ``ingest`` (the write side) and the rest of ``assistant`` (the read side) import it.
"""
