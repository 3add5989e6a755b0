"""What every third-party data service over HTTP shares: a JSON POST with a bearer key, and
one translation of failures into `ThirdPartyUnavailable`.

A transport error, a 429 or a 5xx means the provider could not answer now; a 4xx means it
refused this request; a 200 whose body does not have the fields we map means it answered
something we do not understand. All three make the service refer the application or retry
later instead of deciding without the data (docs/origination.md), so they share one error,
with the provider's name and the reason in the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from tailguard.origination.thirdparty import ThirdPartyUnavailable

T = TypeVar("T")


class JsonService:
    """A provider's base URL, key and HTTP client; `call` posts and maps one answer."""

    def __init__(self, base_url: str, api_key: str, *, provider: str,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.provider = provider
        self.client = client or httpx.Client(timeout=15.0)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Request:
        return self.client.build_request(
            "POST", f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.api_key}"}, json=body)

    def call(self, request: httpx.Request, parse: Callable[[dict[str, Any]], T]) -> T:
        what = self.provider
        try:
            response = self.client.send(request)
        except httpx.TransportError as exc:
            raise ThirdPartyUnavailable(f"{what} unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ThirdPartyUnavailable(f"{what} answered {response.status_code}")
        if response.status_code != 200:
            raise ThirdPartyUnavailable(
                f"{what} refused the request ({response.status_code}): {response.text[:200]}")
        try:
            return parse(response.json())
        except (KeyError, TypeError, ValueError) as exc:
            raise ThirdPartyUnavailable(f"{what} answer not understood: {exc}") from exc
