"""The read side of Newsdesk: answering, the chat UI and the HTTP API."""

import os

# Newsdesk never phones home: Gradio reads this when it is imported (by assistant.ui and .api).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
