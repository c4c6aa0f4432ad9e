"""Tierwise."""
