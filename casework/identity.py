"""One person, whichever door they come through: Telegram, the terminal or the browser.

A person is one row in ``people``. Telegram finds them by their Telegram user id, the
browser by a signed session cookie, and the command line by the operating-system account
that runs it: the process's uid, looked up in the password database. Never a flag, and
never ``USER``/``LOGNAME`` (``getpass.getuser()`` reads those first, and anyone can set them).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from typing import Any

from casework.errors import Invalid, NotLinked
from storage.store import NotFound as StoreNotFound
from storage.store import Store

WORKER_ROLES = frozenset({"worker", "supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, and through which channel. Rights come from the case, not from here:
    ``role`` (the person's global role) only says whether they may open cases at all."""

    person_id: int
    name: str
    role: str
    lang: str
    channel: str
    os_user: str | None = None

    @property
    def is_worker(self) -> bool:
        return self.role in WORKER_ROLES


def actor_from_row(row: dict[str, Any], channel: str, os_user: str | None = None) -> Actor:
    return Actor(
        int(row["id"]),
        str(row["name"]),
        str(row["role"]),
        str(row["lang"] or "en"),
        channel,
        os_user,
    )


def by_id(store: Store, person_id: int, channel: str) -> Actor:
    try:
        return actor_from_row(store.person(person_id), channel)
    except StoreNotFound as exc:
        raise NotLinked(f"no person {person_id}") from exc


def by_telegram(store: Store, telegram_user_id: int) -> Actor | None:
    row = store.person_by_telegram(telegram_user_id)
    return None if row is None else actor_from_row(row, "telegram")


LANGUAGES = ("en", "zh")


def set_language(store: Store, actor: Actor, lang: str) -> Actor:
    """The person's language for every channel (records, the desk, the bot's messages)."""
    if lang not in LANGUAGES:
        raise Invalid(f"language {lang[:10]!r}: use one of {', '.join(LANGUAGES)}")
    store.set_language(actor.person_id, lang)
    store.audit(actor.person_id, "person.language", "person", actor.person_id, lang=lang)
    return Actor(actor.person_id, actor.name, actor.role, lang, actor.channel, actor.os_user)


def os_login() -> str:
    """The login name of the account this process runs as, from its uid."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no entry in the password database (some containers)
        return f"uid:{uid}"


def terminal_actor(store: Store) -> Actor:
    """The worker linked to the calling OS account. Every audit row this store writes from
    now on names that account too. Raises NotLinked with the command that links it."""
    login = os_login()
    row = store.person_by_login(login)
    if row is None:
        raise NotLinked(
            f"the account {login!r} is not linked to a worker. An administrator links it with:"
            f" caseflow workers add TELEGRAM_ID --name NAME --login {login}"
            f"  (or, for a registered worker: caseflow workers link TELEGRAM_ID --login {login})"
        )
    store.via = {"channel": "terminal", "os_user": login}
    return actor_from_row(row, "terminal", login)


__all__ = [
    "LANGUAGES",
    "WORKER_ROLES",
    "Actor",
    "actor_from_row",
    "by_id",
    "by_telegram",
    "os_login",
    "set_language",
    "terminal_actor",
]
