"""Command line: ``llmcert``. Each command imports its service inside, so start-up stays fast."""

from llmcert.cli._app import app, main

__all__ = ["app", "main"]
