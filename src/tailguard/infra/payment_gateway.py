"""The payment-gateway port and its sandbox, with signed callbacks.

A borrower pays in the app: tailguard records a payment order, sends the borrower to the
gateway's cashier page, and the gateway later tells tailguard the outcome with a callback whose
body is signed with HMAC-SHA256 under a key both sides hold (`TAILGUARD_GATEWAY_SECRET`). The
callback is believed only when the signature verifies; the gateway's transaction id becomes the
payment's idempotency key, so a callback delivered twice posts once.

The sandbox is the gateway for development and tests: its cashier page is served by tailguard
itself (`/app/pay/sandbox/ORDER`), it invents transaction ids, and it signs its notifications
with the same key and format a real adapter verifies. It speaks the port; it is no shortcut.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

SIGNATURE_HEADER = "X-Gateway-Signature"


def sign(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the exact body bytes."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, body), signature.strip().lower())


@dataclass(frozen=True)
class Notification:
    """What a verified callback says about an order."""

    order_id: str
    transaction_id: str
    amount_fen: int
    status: str  # paid, failed

    def to_body(self) -> bytes:
        return json.dumps({"order_id": self.order_id, "transaction_id": self.transaction_id,
                           "amount_fen": self.amount_fen, "status": self.status},
                          sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_body(cls, body: bytes) -> Notification:
        """Parse a verified body; `ValueError` when it is not the expected shape."""
        data: Any = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("the notification is not an object")
        order, txn, amount, status = (data.get("order_id"), data.get("transaction_id"),
                                      data.get("amount_fen"), data.get("status"))
        if not (isinstance(order, str) and isinstance(txn, str) and isinstance(amount, int)
                and not isinstance(amount, bool) and status in ("paid", "failed")):
            raise ValueError("the notification lacks order_id, transaction_id, amount_fen or "
                             "status")
        return cls(order, txn, amount, status)


class PaymentGateway(Protocol):
    name: str

    def cashier_url(self, order_id: str) -> str:
        """Where the borrower is sent to pay this order."""

    def verify(self, body: bytes, signature: str | None) -> bool:
        """True when the callback body carries the gateway's signature."""


class SandboxGateway:
    name = "sandbox"

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the gateway needs a signing key")
        self._secret = secret

    def cashier_url(self, order_id: str) -> str:
        return f"/app/pay/sandbox/{order_id}"

    def verify(self, body: bytes, signature: str | None) -> bool:
        return verify(self._secret, body, signature)

    def complete(self, order_id: str, amount_fen: int, paid: bool = True
                 ) -> tuple[bytes, str]:
        """The sandbox's side of a payment: a new transaction id and the signed notification
        (body, signature) it delivers to tailguard's callback."""
        note = Notification(order_id, "sbx-" + uuid.uuid4().hex[:20], amount_fen,
                            "paid" if paid else "failed")
        body = note.to_body()
        return body, sign(self._secret, body)
