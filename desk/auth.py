"""Who is at the browser, and what keeps a page from being abused.

- **The cookie secret** is 32 random bytes in a 0600 file beside the database
  (``caseflow.db.desk-secret``), made on first use; it is never printed or logged.
- **The session cookie** (``caseflow_desk``) carries a random desk-session id, signed with the
  secret (itsdangerous). HttpOnly, SameSite=Lax, Path=/, and Secure when the request came over
  HTTPS, directly or through a proxy that says so (``X-Forwarded-Proto: https``). The session
  itself lives in SQLite (``casework/signin.py``): signing out ends it for good, and so does a
  spell without requests longer than the idle timeout.
- **CSRF**: every POST form carries a token, an HMAC of the desk session (before signing in:
  of a random value in a short-lived cookie); a POST without the right one is refused (403),
  and so is a POST that the browser says came from another site.
- **Headers**: a Content-Security-Policy that allows no inline script (nor any script but our
  own files), no framing, no plugins; nosniff; no referrer (a sign-in link in a URL must not
  leak to anyone); no caching of pages that hold case data; HSTS over HTTPS.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casework import signin
from casework.identity import Actor
from desk.backend import Backend, Busy
from storage.files import FILE_MODE, private_dir

SESSION_COOKIE = "caseflow_desk"
SIGNIN_COOKIE = "caseflow_signin"
SECRET_SUFFIX = ".desk-secret"  # noqa: S105 (a file name, not a secret)
CSRF_FIELD = "csrf"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

__all__ = [
    "CSP",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "Auth",
    "CsrfRefused",
    "DeskSessions",
    "SecurityHeaders",
    "SignInRequired",
    "actor_of",
    "load_secret",
    "secret_path",
]


class SignInRequired(Exception):
    """The page needs a signed-in worker."""


class CsrfRefused(Exception):
    """A form came without its token, with a wrong one, or from another site."""


def secret_path(db_path: str | Path) -> Path | None:
    """Where the cookie secret of a database lives; None for an in-memory database."""
    text = str(db_path)
    if text in ("", ":memory:"):
        return None
    return Path(text + SECRET_SUFFIX)


def load_secret(db_path: str | Path) -> bytes:
    """The desk's cookie secret for the database at ``db_path``: read from its 0600 file,
    or made (atomically: two processes starting at once end up with the same one)."""
    path = secret_path(db_path)
    if path is None:
        return secrets.token_bytes(32)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        os.chmod(path, FILE_MODE)
        data = path.read_bytes().strip()
        if len(data) < 32:
            raise SystemExit(f"caseflow: the desk secret {path} is damaged; delete it.") from None
        return data
    try:
        os.fchmod(fd, FILE_MODE)
        value = secrets.token_hex(32).encode()
        os.write(fd, value)
    finally:
        os.close(fd)
    return value


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            with contextlib.suppress(Exception):  # a malformed header is no cookie at all
                jar.load(value.decode("latin-1"))
    return {key: morsel.value for key, morsel in jar.items()}


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def is_https(scope: Scope) -> bool:
    """Served over HTTPS, or behind a proxy that says it was."""
    if scope.get("scheme") == "https":
        return True
    forwarded = _header(scope, b"x-forwarded-proto") or ""
    return forwarded.split(",")[0].strip().lower() == "https"


class Auth:
    """Signing cookies and forms with the desk's secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._signer = Signer(secret, salt="caseflow-desk-session")

    def cookie_value(self, token: str) -> str:
        return self._signer.sign(token.encode()).decode()

    def token_of(self, value: str | None) -> str | None:
        if not value or len(value) > 512:
            return None
        try:
            return self._signer.unsign(value.encode()).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def csrf(self, binding: str) -> str:
        return hmac.new(self._secret, b"csrf\0" + binding.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, binding: str | None, given: object) -> bool:
        if not binding or not isinstance(given, str) or len(given) != 64:
            return False
        return hmac.compare_digest(self.csrf(binding), given)

    def set_cookie(self, response: Response, request: Request, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="lax",
            secure=is_https(request.scope),
            path="/",
        )

    def clear_cookie(self, response: Response, request: Request, name: str) -> None:
        response.delete_cookie(
            name, path="/", httponly=True, samesite="lax", secure=is_https(request.scope)
        )


def actor_of(request: Request) -> Actor:
    """The signed-in worker, or SignInRequired."""
    actor = request.scope.get("state", {}).get("actor")
    if not isinstance(actor, Actor):
        raise SignInRequired()
    return actor


def csrf_binding(request: Request) -> str | None:
    """What the page's CSRF token is bound to: the desk session, else the sign-in cookie."""
    state = request.scope.get("state", {})
    token = state.get("session_token")
    if isinstance(token, str):
        return "session:" + token
    pre = _cookies(request.scope).get(SIGNIN_COOKIE)
    return "signin:" + pre if pre and 16 <= len(pre) <= 64 else None


async def checked_form(request: Request, auth: Auth) -> FormData:
    """The POSTed form, once its CSRF token has been checked (CsrfRefused otherwise)."""
    if request.scope.get("state", {}).get("cross_site"):
        raise CsrfRefused()
    form = await request.form(max_files=0, max_fields=64, max_part_size=64 * 1024)
    if not auth.csrf_ok(csrf_binding(request), form.get(CSRF_FIELD)):
        raise CsrfRefused()
    return form


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pages, files, errors alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope)
        static = str(scope.get("path", "")).startswith("/static/")
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                given = list(message.get("headers", []))
                # A handler may set a stricter or narrower policy for its own response (an
                # SVG chart); every other security header is ours.
                own_csp = [(k, v) for k, v in given if k.lower() == b"content-security-policy"]
                headers = [
                    (k, v) for k, v in given if k.lower().decode("latin-1") not in SECURITY_HEADERS
                ]
                headers += [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if not (own_csp and k == "content-security-policy")
                ]
                headers += own_csp
                if not static:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                # How long the server took (for a load test; says nothing about content).
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class DeskSessions:
    """Finds the signed-in worker of each request (``request.state.actor``) from the
    session cookie; refuses cross-site POSTs; clears a cookie whose session has ended."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Auth,
        backend: Backend,
        clock: Callable[[], datetime],
        idle: timedelta,
    ) -> None:
        self.app = app
        self.auth = auth
        self.backend = backend
        self.clock = clock
        self.idle = idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if scope.get("method") not in ("GET", "HEAD", "OPTIONS") and _cross_site(scope):
            state["cross_site"] = True
        value = _cookies(scope).get(SESSION_COOKIE)
        token = self.auth.token_of(value)
        stale = value is not None
        if token is not None:
            try:
                actor = await self.backend.run(signin.resume, token, self.clock(), self.idle)
            except Busy:
                busy = PlainTextResponse(
                    "The database is busy: nothing was changed. Please try again in a moment.\n"
                    "系统繁忙，本次操作没有保存，请稍后再试。\n",
                    status_code=503,
                    headers={"retry-after": "2"},
                )
                await busy(scope, receive, send)
                return
            if actor is not None:
                state["actor"] = actor
                state["session_token"] = token
                stale = False
            else:
                state["session_ended"] = True
        if not stale:
            await self.app(scope, receive, send)
            return
        https = is_https(scope)

        async def clearing(message: Message) -> None:
            if message["type"] == "http.response.start":
                response = Response()
                response.delete_cookie(
                    SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=https
                )
                already = any(
                    k == b"set-cookie" and v.startswith(SESSION_COOKIE.encode() + b"=")
                    for k, v in message.get("headers", [])
                )
                if not already:
                    extra = [(k, v) for k, v in response.raw_headers if k == b"set-cookie"]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, clearing)


def _cross_site(scope: Scope) -> bool:
    """Whether the browser says an unsafe request came from another site (Sec-Fetch-Site),
    or its Origin names another host than the one it was sent to."""
    site = (_header(scope, b"sec-fetch-site") or "").lower()
    if site in ("cross-site", "same-site"):
        return True
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        # "null": the browser hides the origin (our Referrer-Policy: no-referrer makes it do
        # so for form posts); Sec-Fetch-Site above and the form's token still decide.
        return False
    host = _header(scope, b"host") or ""
    return origin.split("://", 1)[-1].rstrip("/") != host
