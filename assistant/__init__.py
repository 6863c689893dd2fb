"""The read side of Newsdesk: answering, the chat UI and the HTTP API."""

import os

# Newsdesk never phones home: Gradio reads this when it is imported (by assistant.frontends.ui.app and .api).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
