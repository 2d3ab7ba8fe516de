"""The HTTP API (FastAPI): thin routers over services, errors as problem+json."""
