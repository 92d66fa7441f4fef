"""Outgoing callback delivery over HTTP."""
