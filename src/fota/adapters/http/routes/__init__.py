"""Routers, one per area of the API; each route parses, calls one service function and presents the result."""
