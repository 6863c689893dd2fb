"""The prompt templates of LLM mode (``*.txt``), shipped as package data and read by
:mod:`assistant.answering.prompts` through ``importlib.resources``; nothing to import here."""
