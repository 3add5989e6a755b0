"""SMS and WeChat provider adapters over HTTP (httpx).

Each adapter builds its provider request in a method of its own (`build_request`), so tests
check the request exactly with `httpx.MockTransport`, and sends it with an `httpx.Client`
given to it (a real one in production, one on a mock transport in tests).

- `HttpSmsChannel`: a JSON SMS gateway (`POST URL`, bearer key, the provider's registered
  template and its parameters, the rendered text, and our message id as the idempotency key so
  a retried request is not sent twice). Providers that sign requests their own way (Aliyun,
  Tencent Cloud) get a subclass overriding `build_request`.
- `WeChatTemplateChannel`: the official-account template message API
  (`/cgi-bin/message/template/send`), with the access token fetched from `/cgi-bin/token` and
  kept until shortly before it expires; an expired token is fetched again once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tailguard.engagement.channels import DeliveryError, OutboundMessage
from tailguard.engagement.vocabulary import Channel

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpSmsChannel:
    channel = Channel.SMS

    def __init__(self, url: str, api_key: str, *, sign_name: str,
                 client: httpx.Client | None = None) -> None:
        self.url, self.api_key, self.sign_name = url, api_key, sign_name
        self.client = client or httpx.Client(timeout=10.0)

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        return self.client.build_request(
            "POST", self.url,
            headers={"Authorization": f"Bearer {self.api_key}",
                     "Idempotency-Key": f"tailguard-message-{message.message_id}"},
            json={"to": message.to, "sign_name": self.sign_name, "template": message.template,
                  "params": message.params, "text": message.body,
                  "client_reference": str(message.message_id)},
        )

    def send(self, message: OutboundMessage) -> str:
        try:
            response = self.client.send(self.build_request(message))
        except httpx.TransportError as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise DeliveryError(f"SMS gateway answered {response.status_code}",
                                retryable=response.status_code in RETRYABLE_STATUS)
        try:
            return str(response.json()["message_id"])
        except (ValueError, KeyError) as exc:
            raise DeliveryError("SMS gateway answered without a message_id") from exc


class WeChatTemplateChannel:
    channel = Channel.WECHAT
    API = "https://api.weixin.qq.com"
    EXPIRED_TOKEN = frozenset({40001, 40014, 42001})
    FINAL_ERRORS = frozenset({40003, 40037, 43004, 43101})
    """Invalid openid, invalid template, user unsubscribed, user refused the message."""

    def __init__(self, app_id: str, app_secret: str, template_ids: dict[str, str], *,
                 client: httpx.Client | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.template_ids = template_ids
        self.client = client or httpx.Client(timeout=10.0)
        self.monotonic = monotonic
        self._token: str | None = None
        self._token_until = 0.0

    def token_request(self) -> httpx.Request:
        return self.client.build_request("GET", f"{self.API}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.app_id,
            "secret": self.app_secret})

    def build_request(self, message: OutboundMessage, token: str) -> httpx.Request:
        template_id = self.template_ids.get(message.template)
        if template_id is None:
            raise DeliveryError(f"no WeChat template id for {message.template}",
                                retryable=False)
        data = {"first": {"value": message.subject},
                **{key: {"value": value} for key, value in message.params.items()}}
        return self.client.build_request(
            "POST", f"{self.API}/cgi-bin/message/template/send",
            params={"access_token": token},
            json={"touser": message.to, "template_id": template_id, "data": data,
                  "client_msg_id": f"tailguard-{message.message_id}"},
        )

    def _call(self, request: httpx.Request) -> dict[str, object]:
        try:
            response = self.client.send(request)
        except httpx.TransportError as exc:
            raise DeliveryError(f"WeChat API unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise DeliveryError(f"WeChat API answered {response.status_code}",
                                retryable=response.status_code in RETRYABLE_STATUS)
        body: dict[str, object] = response.json()
        return body

    def access_token(self, refresh: bool = False) -> str:
        now = self.monotonic()
        if refresh or self._token is None or now >= self._token_until:
            body = self._call(self.token_request())
            token = body.get("access_token")
            if not isinstance(token, str):
                raise DeliveryError(f"WeChat token refused: {body.get('errmsg')}")
            expires = body.get("expires_in", 7200)
            self._token = token
            self._token_until = now + float(expires if isinstance(expires, int) else 7200) - 300
        return self._token

    def send(self, message: OutboundMessage) -> str:
        for attempt in (0, 1):
            body = self._call(self.build_request(message, self.access_token(refresh=attempt > 0)))
            code = body.get("errcode", 0)
            if code == 0:
                return str(body.get("msgid"))
            if code in self.EXPIRED_TOKEN and attempt == 0:
                continue
            raise DeliveryError(f"WeChat errcode {code}: {body.get('errmsg')}",
                                retryable=code not in self.FINAL_ERRORS)
        raise DeliveryError("WeChat access token refused twice")
