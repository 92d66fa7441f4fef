"""The `fota` command line (typer + rich): serving, administration."""
