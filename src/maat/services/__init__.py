"""Use cases: join the pure capability packages with the adapters."""
