"""The edges: storage, HTTP, command line. They depend on services and domain, never the other way."""
