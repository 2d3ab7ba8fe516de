"""Vulnerability intelligence and patch management."""
