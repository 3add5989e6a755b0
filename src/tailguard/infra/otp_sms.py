"""The SMS port for one-time login codes, and its sandbox.

A minimal port: the borrower app's login needs one text sent to one phone. The sandbox keeps
what it was asked to send (the last text per phone), so development shows the code on the
login page and tests read it back; nothing leaves the machine. When the engagement context's
SMS channel adapter exists, a small adapter of this port over it replaces the sandbox in
production (docs/web.md).
"""

from __future__ import annotations

import threading
from typing import Protocol


class CodeSender(Protocol):
    def send_code(self, phone: str, text: str) -> None:
        """Send `text` to `phone` (E.164); raise on failure, the caller keeps no code then."""


class SandboxCodeSender:
    """Records texts in memory instead of sending them."""

    reveals_codes = True
    """Development may show what the sandbox holds on the page; a real sender never does."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()
        self.sent = 0

    def send_code(self, phone: str, text: str) -> None:
        with self._lock:
            self._last[phone] = text
            self.sent += 1

    def last_text(self, phone: str) -> str | None:
        with self._lock:
            return self._last.get(phone)
