"""Errors every context shares: bad input named by field, and typed business refusals.

Bad input and refusals are expected outcomes, so they are values with a machine-readable code
and a sentence for people; entry points turn them into a one-line message or a 4xx response.
Broken invariants are assertions instead: they mean a bug, not a user mistake.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One field that is wrong, and why."""

    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInput(ValueError):
    """One or more fields of a request are wrong; nothing was changed."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        assert errors, "an InvalidInput needs at least one field error"
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def one(cls, field: str, code: str, message: str) -> InvalidInput:
        return cls([FieldError(field, code, message)])


class Refused(Exception):
    """A well-formed request the rules do not allow (e.g. an extension beyond the legal cap)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class NotFound(LookupError):
    """The thing asked for does not exist, or is not visible to the caller (same answer)."""


class Conflict(Exception):
    """The request contradicts one made before (e.g. an idempotency key reused differently)."""
