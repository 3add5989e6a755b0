"""Adapters to the outside world: database, settings, crypto, channels, document storage."""
