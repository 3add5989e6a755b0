"""Contracts and the tamper-evident transparency log that proves what was signed and booked."""
