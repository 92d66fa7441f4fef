"""The operator web console: server-rendered pages under /console over the same services as the API."""

from fota.adapters.console.routes import router, static_files

__all__ = ["router", "static_files"]
