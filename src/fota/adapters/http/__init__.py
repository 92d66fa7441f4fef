"""The HTTP edge: the ThingSpace-compatible API, the admin API and health checks (FastAPI)."""
