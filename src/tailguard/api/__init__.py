"""The REST API under /api/v1: translates HTTP into service calls and results back."""
