"""Who runs a ``caseflow`` command that reads or changes case data: the worker linked to the
calling operating-system account (casework/identity.py), or nobody, with a clear message."""

from __future__ import annotations

import sys

from casework.errors import NotLinked
from casework.identity import Actor, terminal_actor
from storage.store import Store

NOT_ALLOWED = 3  # the exit status of a refusal, linked or not


def caller(store: Store) -> Actor | None:
    """The calling account's worker; None (after saying how to link it) when there is none."""
    try:
        return terminal_actor(store)
    except NotLinked as exc:
        print(f"caseflow: {exc}", file=sys.stderr)
        return None


__all__ = ["NOT_ALLOWED", "caller"]
