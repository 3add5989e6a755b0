"""One-line errors for every command: bad input, business refusals and click's usage errors.

DESIGN.md: bad input never reaches a traceback, it gets a clear error naming the field. On the
command line that means exactly one line on stderr, ``error: --term: must be between 1 and 360
months, got 400``, and a non-zero exit code a script can test:

- 2 (`EXIT_INVALID_INPUT`) for input the user must correct, the same code click uses for its own
  usage errors (missing option, bad choice), because to the caller both mean "fix the command";
- 3 (`EXIT_REFUSED`) for a well-formed request the business rules do not allow.

Commands raise the core's `InvalidInput` and `Refused`; `reports_errors` turns them into one line,
naming each field by its command-line option (`field_options`). `OneLineErrorGroup` does the same
for click's own parse errors, which by default print a usage block over several lines.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, ParamSpec, TypeVar, overload

import click

from tailguard.errors import Conflict, InvalidInput, NotFound, Refused

EXIT_INVALID_INPUT = 2
EXIT_REFUSED = 3
EXIT_NOT_FOUND = 4

P = ParamSpec("P")
R = TypeVar("R")

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


class OneLineError(click.ClickException):
    """A click exception shown as a single ``error: ...`` line on stderr."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {_one_line(self.format_message())}", file=file, err=file is None)


class InvalidInputError(OneLineError):
    """Input the user must correct (exit code 2)."""

    exit_code = EXIT_INVALID_INPUT


class RefusedError(OneLineError):
    """A request the business rules refuse (exit code 3)."""

    exit_code = EXIT_REFUSED


class NotFoundError(OneLineError):
    """What was asked for does not exist (exit code 4)."""

    exit_code = EXIT_NOT_FOUND


class OneLineUsageError(click.UsageError):
    """Click's own usage error, re-worded to one line naming the option (exit code 2)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {_one_line(self.format_message())}", file=file, err=file is None)


def invalid_input_line(error: InvalidInput, field_options: Mapping[str, str] | None = None) -> str:
    """``--option: message`` for each field error, joined on one line."""
    options = field_options or {}
    return "; ".join(
        f"{options.get(field_error.field, field_error.field)}: {field_error.message}"
        for field_error in error.errors
    )


def refused_line(refusal: Refused) -> str:
    return f"refused ({refusal.code}): {refusal.message}"


@overload
def reports_errors(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def reports_errors(
    *, field_options: Mapping[str, str] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def reports_errors(
    func: Callable[P, R] | None = None,
    /,
    *,
    field_options: Mapping[str, str] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command callback so `InvalidInput` and `Refused` end as one-line errors.

    Use bare (``@reports_errors``) when the core's field names are the option names, or with
    ``field_options={"term": "--term"}`` to name each field by the option the user typed.
    Place it below the click decorators, directly over the function.
    """

    def decorate(callback: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(callback)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return callback(*args, **kwargs)
            except InvalidInput as error:
                raise InvalidInputError(invalid_input_line(error, field_options)) from error
            except Refused as refusal:
                raise RefusedError(refused_line(refusal)) from refusal
            except NotFound as missing:
                raise NotFoundError(str(missing)) from missing
            except Conflict as conflict:
                raise RefusedError(f"conflict: {conflict}") from conflict

        return wrapper

    return decorate(func) if func is not None else decorate


def usage_error_line(error: click.UsageError) -> str:
    """Click's usage error as ``--option: what is wrong``, without the usage block."""
    if isinstance(error, click.MissingParameter):
        return f"{_parameter_name(error.param, error.param_hint)}: required but not given"
    if isinstance(error, click.BadParameter):
        return f"{_parameter_name(error.param, error.param_hint)}: {error.message}"
    if isinstance(error, click.NoSuchOption):
        hint = f" (did you mean {', '.join(error.possibilities)}?)" if error.possibilities else ""
        return f"{error.option_name}: no such option{hint}"
    if isinstance(error, click.BadOptionUsage):
        redundant = f"Option {error.option_name!r} "
        message = error.message
        if message.startswith(redundant):
            message = message[len(redundant):]
        return f"{error.option_name}: {message}"
    return error.format_message()


def _parameter_name(param: click.Parameter | None, hint: Any) -> str:
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    if param is not None:
        return param.human_readable_name
    if isinstance(hint, str):
        return hint
    if hint:
        return " / ".join(str(h) for h in hint)
    return "input"


@contextmanager
def _usage_errors_as_one_line() -> Iterator[None]:
    try:
        yield
    except (click.exceptions.NoArgsIsHelpError, OneLineUsageError):
        raise
    except click.UsageError as error:
        raise OneLineUsageError(usage_error_line(error), error.ctx) from error


class OneLineErrorGroup(click.Group):
    """A click group whose usage errors, and those of its commands, are one line each.

    Parsing happens in `make_context` (the group's own options) and in `invoke` (a command's
    options, and errors raised while it runs), so both re-raise click's usage errors as
    `OneLineUsageError`. Asking for help with no arguments still prints the help.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _usage_errors_as_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_errors_as_one_line():
            return super().invoke(ctx)
