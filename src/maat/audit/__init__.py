"""The tamper-evident audit chain (pure: hashing and verification)."""
