"""Authentication and authorisation rules: roles, permissions, passwords, TOTP, tokens.

Pure logic: takes values, returns values. Storage and HTTP live in services and the API.
"""
