"""User errors: one line on stderr and a non-zero exit, no traceback.

A mistake in a command line, a config value or an input file raises :class:`UsageError` with a message that
says everything (the key or file, what is wrong, what is valid). The entry points turn it, and the few
library errors whose message already names the key or file, into ``error: ...`` and exit status 2; the
traceback comes back with ``HYDRA_FULL_ERROR=1`` (Hydra commands) or ``--debug`` (argparse commands).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from omegaconf.errors import MissingMandatoryValue

EXIT_USAGE = 2


class UsageError(ValueError):
    """A mistake of the user's whose message is the whole story (named key or file, what is valid)."""


# errors whose message is one clear line already; anything else is a bug and keeps its traceback
ONE_LINE_ERRORS: tuple[type[BaseException], ...] = (UsageError, FileNotFoundError, MissingMandatoryValue)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USAGE)


def _message(error: BaseException) -> str:
    if isinstance(error, MissingMandatoryValue):
        key = getattr(error, "full_key", None) or "a required value"
        return f"{key} is required (set it on the command line: {key}=...)"
    return str(error)


@contextmanager
def one_line_errors(debug: bool = False) -> Iterator[None]:
    """Turn a user error raised inside into one line and exit 2 (re-raise with ``debug`` or HYDRA_FULL_ERROR=1)."""
    try:
        yield
    except ONE_LINE_ERRORS as error:
        if debug or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        fail(_message(error))


def hydra_task(task: F) -> F:
    """Decorate a Hydra task function (under ``@hydra.main``) so that user errors print one line."""

    @functools.wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_line_errors():
            return task(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes (a bad option or value) print one line, not the usage text; --help has it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (--help lists the options)\n")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _bounded(text, int, 1, "a positive integer")


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = _bounded(text, float, 0.0, "a number in [0, 1]")
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text}")
    return value


def _bounded(text: str, kind: type, low: float, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


class FatalCallError(RuntimeError):
    """A call that no retry can fix (a wrong key, model or request): the run stops, with this one line."""
