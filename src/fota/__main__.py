"""`python -m fota` runs the command-line interface."""

from fota.adapters.cli.main import app

app()
