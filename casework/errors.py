"""The application layer's few errors. Channels turn them into their medium's words."""

from __future__ import annotations


class CaseworkError(Exception):
    """Something a user asked for that the application layer will not do."""


class NotAllowed(CaseworkError):
    """The person's role on that case does not allow the action (already audited)."""


class NotFound(CaseworkError):
    """No such case, session, flow or person (or none this person may know of)."""


class Invalid(CaseworkError):
    """The request itself is wrong: a malformed id, a flow of the wrong kind, a bad value."""


class NotLinked(CaseworkError):
    """The operating-system account running the command is not linked to a worker."""


__all__ = ["CaseworkError", "Invalid", "NotAllowed", "NotFound", "NotLinked"]
