"""Signing in to the desk and what protects a signed-in browser: one-time links, the session
cookie, idle expiry, sign-out, CSRF, security headers, and refusals that look like 404."""

from __future__ import annotations

import re
import stat

import pytest
from starlette.routing import Route

from casework import signin
from desk.auth import CSP, SESSION_COOKIE, load_secret
from storage.desk import DeskStore
from tests.deskkit import session_of


def cookie_header(response, name: str) -> str:
    return next(v for v in response.headers.get_list("set-cookie") if v.startswith(name + "="))


def test_a_sign_in_link_shows_a_button_and_signs_in_once_with_a_private_cookie(desk):
    browser = desk.browser()
    token = browser.link(desk.team.worker)
    first = browser.get(f"/signin/{token}")
    again = browser.get(f"/signin/{token}")  # a link preview fetching it uses nothing up
    assert first.status_code == again.status_code == 200
    assert "Sign in" in again.text
    response = browser.post("/signin", {"token": token})
    assert response.status_code == 303 and response.headers["location"] == "/caseload"
    cookie = cookie_header(response, SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert token not in cookie
    assert "LBC-07" in browser.get("/caseload").text
    assert [r["actor_id"] for r in desk.audit("desk.signin")] == [desk.team.worker]


def test_a_used_sign_in_link_is_refused(desk):
    browser = desk.browser()
    token = browser.link(desk.team.worker)
    browser.get(f"/signin/{token}")
    assert browser.post("/signin", {"token": token}).status_code == 303
    thief = desk.browser()
    thief.get(f"/signin/{token}")
    refused = thief.post("/signin", {"token": token})
    assert refused.status_code == 404
    assert "does not work" in refused.text
    assert thief.get("/caseload").status_code == 401
    assert [r["detail"] for r in desk.audit("access.refused")][-1].count("desk.signin") == 1


def test_a_sign_in_link_works_for_fifteen_minutes_only(desk):
    browser = desk.browser()
    token = browser.link(desk.team.worker)
    browser.get(f"/signin/{token}")
    desk.clock.advance(minutes=15, seconds=1)
    assert browser.post("/signin", {"token": token}).status_code == 404


def test_only_a_hash_of_a_sign_in_token_is_stored(desk):
    token = desk.browser().link(desk.team.worker)
    rows = desk.call(lambda store: store._all("SELECT * FROM desk_signin_tokens"))
    assert rows and all(token not in str(row) for row in rows)
    assert rows[-1]["token_hash"] == signin.token_hash(token)


@pytest.mark.parametrize(
    ("https", "headers"),
    [(True, {}), (False, {"x-forwarded-proto": "https"})],
    ids=["over https", "behind a proxy saying https"],
)
def test_the_cookie_is_secure_over_https(desk, https, headers):
    browser = desk.browser(https=https)
    browser.client.headers.update(headers)
    token = browser.link(desk.team.worker)
    page = browser.get(f"/signin/{token}")
    pre = cookie_header(page, "caseflow_signin")
    assert "Secure" in pre
    # The test client speaks plain http to the app "behind the proxy"; a browser would
    # speak https to the proxy and send the cookie back.
    browser.client.cookies.set("caseflow_signin", pre.split(";")[0].split("=", 1)[1])
    response = browser.post("/signin", {"token": token})
    assert "Secure" in cookie_header(response, SESSION_COOKIE)
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_session_ends_after_thirty_idle_minutes_and_says_why(desk):
    browser = desk.signed_in(desk.team.worker)
    desk.clock.advance(minutes=20)
    assert browser.get("/caseload").status_code == 200
    desk.clock.advance(minutes=29)  # 49 minutes since signing in, 29 since the last page
    assert browser.get("/caseload").status_code == 200
    desk.clock.advance(minutes=30, seconds=1)
    expired = browser.get("/caseload")
    assert expired.status_code == 401
    assert "30 minutes without activity" in expired.text
    assert 'caseflow_desk=""' in cookie_header(expired, SESSION_COOKIE)
    assert [r["actor_id"] for r in desk.audit("desk.expired")] == [desk.team.worker]
    desk.clock.advance(minutes=1)
    assert browser.get("/caseload").status_code == 401


def test_signing_out_ends_the_session_even_for_a_copy_of_the_cookie(desk):
    browser = desk.signed_in(desk.team.worker)
    copy = desk.browser()
    copy.client.cookies.set(SESSION_COOKIE, browser.client.cookies[SESSION_COOKIE])
    assert copy.get("/caseload").status_code == 200
    response = browser.post("/signout")
    assert response.status_code == 200 and "You have signed out" in response.text
    assert 'caseflow_desk=""' in cookie_header(response, SESSION_COOKIE)
    assert copy.get("/caseload").status_code == 401
    assert browser.get("/caseload").status_code == 401
    assert [r["actor_id"] for r in desk.audit("desk.signout")] == [desk.team.worker]


def test_a_forged_cookie_signs_nobody_in(desk):
    browser = desk.signed_in(desk.team.worker)
    value = browser.client.cookies[SESSION_COOKIE]
    forger = desk.browser()
    forger.client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert forger.get("/caseload").status_code == 401
    forger.client.cookies.set(SESSION_COOKIE, value.rsplit(".", 1)[0])
    assert forger.get("/caseload").status_code == 401


def _post_routes(app):
    for route in app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            if route.path.startswith("/r/"):
                # A member's web link has no desk session and no CSRF token: the token in
                # its path is the credential (tests/test_respond.py).
                continue
            yield route.path


def _fill(path: str, desk) -> str:
    sid = desk.call(session_of, desk.team.case, "session_record")
    return (
        path.replace("{code}", "LBC-07")
        .replace("{schedule_id:int}", "1")
        .replace("{verb}", "pause")
        .replace("{flag_id:int}", "1")
        .replace("{followup_id:int}", "1")
        .replace("{number:int}", "1")
        .replace("{member_id:int}", str(desk.team.caregiver))
        .replace("{session_id}", sid)
        .replace("{flow}", "session_record")
    )


def test_every_post_form_is_refused_without_its_csrf_token(desk):
    browser = desk.signed_in(desk.team.worker)
    paths = [_fill(p, desk) for p in _post_routes(desk.app)]
    assert len(paths) >= 9
    for path in paths:
        missing = browser.post(path, {"comment": "x", "lang": "zh"}, csrf=False)
        wrong = browser.post(path, {"csrf": "0" * 64, "lang": "zh"})
        assert (path, missing.status_code, wrong.status_code) == (path, 403, 403)
    # Nothing happened: still signed in, in English, no case opened.
    page = browser.get("/caseload")
    assert page.status_code == 200 and "Caseload" in page.text


def test_a_form_posted_from_another_site_is_refused_even_with_its_token(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", {"code": "X-1"}, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    response = browser.post("/cases", {"code": "X-1"}, headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "X-1" not in browser.get("/caseload").text


def test_responses_carry_a_csp_without_inline_scripts_and_the_other_security_headers(desk):
    browser = desk.signed_in(desk.team.worker)
    sid = desk.call(session_of, desk.team.case, "adult_scales")
    for path in ("/caseload", "/cases/LBC-07", f"/records/{sid}", "/inbox", "/nope"):
        response = browser.get(path)
        headers = response.headers
        assert headers["content-security-policy"] == CSP, path
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert "frame-ancestors 'none'" in CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "<script" not in response.text.lower()
        assert not re.search(r"\son[a-z]+=", response.text), path  # no inline handlers
        assert " style=" not in response.text, path  # style-src 'self' would block it


def test_a_page_needs_a_signed_in_worker_and_says_how_to_get_a_link(desk):
    response = desk.browser().get("/caseload")
    assert response.status_code == 401
    assert "/desk" in response.text and "caseflow desk link" in response.text


def test_another_workers_case_and_record_answer_404_like_missing_ones(desk):
    browser = desk.signed_in(desk.team.worker)
    theirs = browser.get("/cases/EL-02")
    missing = browser.get("/cases/NO-SUCH")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace("EL-02", "NO-SUCH") == missing.text
    other_sid = desk.call(session_of, desk.team.other_case, "elder_checkin")
    assert browser.get(f"/records/{other_sid}").status_code == 404
    assert browser.get("/cases/EL-02/summary.html").status_code == 404
    assert browser.post(f"/records/{other_sid}/sign", {"comment": "x"}).status_code == 404
    refused = [r for r in desk.audit("access.refused") if r["actor_id"] == desk.team.worker]
    assert {r["case_id"] for r in refused} == {desk.team.other_case.id}


def test_the_cookie_secret_is_a_private_file_next_to_the_database(tmp_path):
    db = tmp_path / "c.db"
    first = load_secret(db)
    assert load_secret(db) == first and len(first) >= 32
    secret = tmp_path / "c.db.desk-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_desk_sessions_are_stored_as_hashes(desk):
    browser = desk.signed_in(desk.team.worker)
    cookie = browser.client.cookies[SESSION_COOKIE]
    token = cookie.rsplit(".", 1)[0]
    row = desk.call(lambda store: DeskStore(store).session(signin.token_hash(token)))
    assert row is not None and row["person_id"] == desk.team.worker
    rows = desk.call(lambda store: store._all("SELECT * FROM desk_sessions"))
    assert all(token not in str(r) for r in rows)
