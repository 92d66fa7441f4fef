"""The operator web console: server-rendered pages under /console over the same services as the API."""

from fota.adapters.console.routes import router, static_mount

__all__ = ["router", "static_mount"]
