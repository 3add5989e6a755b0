"""Browser tests: the real app under uvicorn on a free port, over a temporary SQLite database
with a few booked loans, driven by Debian's headless Chromium through Playwright.

Skipped (with the reason) when /usr/bin/chromium is absent, unless TAILGUARD_TEST_BROWSER=1,
which CI sets after `scripts/browser` installed it: then a missing browser fails.
Any request to a host other than the server fails the test (no CDN, nothing fetched outside).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.services.platform import Platform
from tailguard.services.setup import initialise
from tests.service.conftest import START, make_platform
from tests.service.web_fixtures import Portfolio, book_portfolio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("TAILGUARD_TEST_BROWSER") == "1":
        pytest.fail("TAILGUARD_TEST_BROWSER=1 but /usr/bin/chromium is missing "
                    "(run scripts/browser)")
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (scripts/browser "
                "installs it; TAILGUARD_TEST_BROWSER=1 makes its absence a failure)")


@dataclass
class Server:
    base_url: str
    platform: Platform
    portfolio: Portfolio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    _require_chromium()
    import uvicorn

    from tailguard.api.app import create_app

    warnings.simplefilter("ignore", CalendarFallbackWarning)
    folder = Path(tempfile.mkdtemp(prefix="tailguard-browser-"))
    clock = FixedClock.at(START)
    platform = make_platform(f"sqlite:///{folder / 'web.db'}", clock)
    initialise(platform)
    portfolio = book_portfolio(platform)
    clock.advance(timedelta(days=35))  # the first instalment is due and unpaid
    port = _free_port()
    config = uvicorn.Config(create_app(platform), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    uv_server = uvicorn.Server(config)
    thread = threading.Thread(target=uv_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", platform, portfolio)
    finally:
        uv_server.should_exit = True
        thread.join(timeout=10)
        platform.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Guard:
    """Requests to any host but the server, recorded (and aborted)."""

    allowed: str
    outside: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any, server: Server, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, base_url=server.base_url,
                                  viewport={"width": 1280, "height": 900})
    guard = Guard(urlsplit(server.base_url).netloc)

    def route(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != guard.allowed:
            guard.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def listen(request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != guard.allowed:
            guard.outside.append(request.url)

    context.route("**/*", route)
    context.on("request", listen)
    tab = context.new_page()
    tab.screenshots = tmp_path_factory.mktemp("screenshots")  # type: ignore[attr-defined]
    yield tab
    context.close()
    assert not guard.outside, f"requests left the server: {guard.outside}"
