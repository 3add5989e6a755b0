"""The notification channel port, and the pure parts of delivery: retry backoff and a
per-channel rate limit.

Adapters (SMTP e-mail, SMS and WeChat providers and their sandboxes) live in
`tailguard.infra.channels` and implement `MessageChannel`. A send either returns the
provider's message id or raises `DeliveryError`, saying whether trying again may help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from tailguard.engagement.vocabulary import Channel

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int
    channel: Channel
    to: str
    """The address on the channel: e-mail address, mobile number, WeChat openid."""
    template: str
    language: str
    subject: str
    body: str
    params: dict[str, str] = field(default_factory=dict)
    """Template variables, for providers that render their own registered templates (SMS
    signatures and WeChat template messages)."""


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class MessageChannel(Protocol):
    channel: Channel

    def send(self, message: OutboundMessage) -> str:
        """Hand the message to the provider; its id for the message, or DeliveryError."""
        ...


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: 1, 4, 16, 64 minutes … capped at two hours."""
    wait: timedelta = BACKOFF_BASE * 4 ** max(attempts - 1, 0)
    return min(wait, BACKOFF_CAP)


@dataclass
class TokenBucket:
    """At most `rate` sends a second on average, `burst` at once; time is passed in (seconds
    of a monotonic clock), so the bucket itself reads no clock."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens = self.burst
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
