"""Batch jobs: the end-of-day run and other scheduled work."""
