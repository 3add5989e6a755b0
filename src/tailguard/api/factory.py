"""An application factory for ASGI servers started from the environment (uvicorn --factory,
several worker processes): each worker builds its own platform and engine."""

from __future__ import annotations

from fastapi import FastAPI

from tailguard.api.app import create_app
from tailguard.services.platform import bootstrap


def app_from_env() -> FastAPI:
    platform = bootstrap()
    platform.settings.check_for_production()
    return create_app(platform)
