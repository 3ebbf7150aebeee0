"""Members' personal web links, as stored: a hash of each token, never the token.

A link belongs to one member of one case. It is live until revoked; replacing a link
revokes it and names its successor. At most one live link per member and case (a partial
UNIQUE index keeps that true even with two processes on one file). Access is not decided
here: the application layer (``casework.weblinks``) asks the policy first.

Everything takes ``now``: nothing here reads the clock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.store import NotFound, StorageError, Store

__all__ = ["LinkExists", "WebLink", "WebLinks"]


class LinkExists(StorageError):
    """The member already has a live link on that case (revoke or replace it)."""


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class WebLink:
    id: int
    case_id: int
    person_id: int
    created_by: int | None
    created_at: str
    revoked_at: str | None
    replaced_by: int | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def _link(row: dict[str, Any]) -> WebLink:
    return WebLink(
        id=int(row["id"]),
        case_id=int(row["case_id"]),
        person_id=int(row["person_id"]),
        created_by=None if row["created_by"] is None else int(row["created_by"]),
        created_at=str(row["created_at"]),
        revoked_at=row["revoked_at"],
        replaced_by=None if row["replaced_by"] is None else int(row["replaced_by"]),
    )


class WebLinks:
    """Create, find, revoke and replace members' web links."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def create(
        self, case_id: int, person_id: int, token_sha256: str, actor_id: int | None, now: datetime
    ) -> WebLink:
        """A new live link; ``LinkExists`` when the member has one on this case already."""
        with self.store.atomic():
            try:
                cursor = self.db.execute(
                    "INSERT INTO web_links (token_sha256, case_id, person_id, created_by,"
                    " created_at) VALUES (?, ?, ?, ?, ?)",
                    (token_sha256, case_id, person_id, actor_id, _ts(now)),
                )
            except sqlite3.IntegrityError as exc:
                if self.live(case_id, person_id) is not None:
                    message = f"person {person_id} has a live link on case {case_id}"
                    raise LinkExists(message) from exc
                raise
            link_id = int(cursor.lastrowid or 0)
            self.store.audit(
                actor_id, "weblink.create", "weblink", link_id, case_id, person_id=person_id
            )
        return self.get(link_id)

    def get(self, link_id: int) -> WebLink:
        row = self.store._one("SELECT * FROM web_links WHERE id = ?", (link_id,))
        if row is None:
            raise NotFound(f"no web link {link_id}")
        return _link(row)

    def by_hash(self, token_sha256: str) -> WebLink | None:
        """The link whose token hashes to ``token_sha256``, live or not."""
        row = self.store._one("SELECT * FROM web_links WHERE token_sha256 = ?", (token_sha256,))
        return None if row is None else _link(row)

    def live(self, case_id: int, person_id: int) -> WebLink | None:
        row = self.store._one(
            "SELECT * FROM web_links WHERE case_id = ? AND person_id = ? AND revoked_at IS NULL",
            (case_id, person_id),
        )
        return None if row is None else _link(row)

    def of_case(self, case_id: int) -> list[WebLink]:
        """Every link of the case, live and revoked, oldest first."""
        rows = self.store._all("SELECT * FROM web_links WHERE case_id = ? ORDER BY id", (case_id,))
        return [_link(r) for r in rows]

    def revoke(
        self, link_id: int, actor_id: int | None, now: datetime, *, replaced_by: int | None = None
    ) -> bool:
        """Stop a link working; False when it was revoked already."""
        link = self.get(link_id)
        with self.store.atomic():
            cursor = self.db.execute(
                "UPDATE web_links SET revoked_at = ?, revoked_by = ?, replaced_by = ?"
                " WHERE id = ? AND revoked_at IS NULL",
                (_ts(now), actor_id, replaced_by, link_id),
            )
            if cursor.rowcount != 1:
                return False
            self.store.audit(
                actor_id,
                "weblink.replace" if replaced_by else "weblink.revoke",
                "weblink",
                link_id,
                link.case_id,
                person_id=link.person_id,
            )
        return True

    def replace(
        self, case_id: int, person_id: int, token_sha256: str, actor_id: int | None, now: datetime
    ) -> WebLink:
        """Revoke the member's live link (if any) and make a new one, in one transaction."""
        with self.store.atomic():
            old = self.live(case_id, person_id)
            if old is not None:
                # The old link goes first: the UNIQUE index allows one live link at a time.
                self.db.execute(
                    "UPDATE web_links SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                    (_ts(now), actor_id, old.id),
                )
            new = self.create(case_id, person_id, token_sha256, actor_id, now)
            if old is not None:
                self.db.execute(
                    "UPDATE web_links SET replaced_by = ? WHERE id = ?", (new.id, old.id)
                )
                self.store.audit(
                    actor_id,
                    "weblink.replace",
                    "weblink",
                    old.id,
                    case_id,
                    person_id=person_id,
                    replaced_by=new.id,
                )
        return new
