"""The common base of every refusal raised by the transparency log.

Each module of the log raises its own subclass with a machine-readable ``reason`` (a member of
that module's reason enum) next to a human message, so a caller can branch on the reason, an API
can return it, and an auditor reading a log line knows which check failed without parsing prose.
"""

from __future__ import annotations

from enum import StrEnum


class TransparencyLogError(ValueError):
    """A proof, note, checkpoint, receipt or tree operation that was refused, and why.

    It subclasses `ValueError` because every refusal is about a value handed in (a proof, a
    size, a piece of text); nothing here is an I/O failure.
    """

    def __init__(self, reason: StrEnum, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
