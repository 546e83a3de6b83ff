"""The admin console in a real browser (Playwright driving Debian's chromium), on both engines.

Signs in with an API key, visits every page of the navigation, creates, edits and deletes a
role (the delete page previews who loses what), grants the role to a member, checks access,
finds the event in the audit log, accepts an invitation through its page, and shows that a
POST without the CSRF token is refused (and changes nothing) and that a revoked key's session
ends on its next request. Screenshots of every page are taken (from the SQLite run) into
target/console-screenshots/, or into the folder ORGIAM_SCREENSHOTS names:
`ORGIAM_SCREENSHOTS=docs/console` refreshes the ones committed for the README.

Needs the `playwright` Python package and chromium at /usr/bin/chromium (or
ORGIAM_CHROMIUM); without either the test is skipped, visibly.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, http

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("ORGIAM_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("ORGIAM_SCREENSHOTS", REPO_ROOT / "target" / "console-screenshots"))
NAV = [
    "Overview",
    "Members",
    "Invites",
    "Groups",
    "Projects",
    "Roles",
    "Permissions",
    "Access",
    "Audit log",
    "API keys",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def sign_in(page, server, key: str) -> None:
    page.goto(f"{server.base_url}/console/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def shot(server, page, name: str) -> None:
    if server.backend == "sqlite":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_console_end_to_end(server, browser):
    suffix = secrets.token_hex(3)
    member_email = f"bea-{suffix}@example.com"
    with http(server, server.admin_key) as api:
        r = api.post("/v1/organization/users", json={"email": member_email, "name": "Bea", "role": "member"})
        assert r.status_code == 200, r.text
        member_id = r.json()["id"]

    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(10_000)

    # unsigned: any page is the sign-in form
    page.goto(f"{server.base_url}/console/roles")
    assert page.get_by_label("API key").is_visible()
    shot(server, page, "login")

    # a wrong key is refused next to the field
    sign_in(page, server, "sk-admin-not-a-real-key-000000000000")
    assert page.get_by_role("alert").inner_text().strip() != ""
    assert page.get_by_label("API key").is_visible()

    sign_in(page, server, server.admin_key)
    assert page.get_by_role("heading", name="Overview").is_visible()

    # the cookie: HttpOnly, SameSite=Strict, Path=/console
    cookie = next(c for c in ctx.cookies() if c["name"] == "orgiam_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"

    # every page of the navigation, reached by its link; never cached, own origin only
    for label in NAV:
        page.get_by_role("navigation").get_by_role("link", name=label, exact=True).click()
        assert page.get_by_role("heading", level=1).inner_text() == label
        resp = page.request.get(page.url)
        assert resp.status == 200
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["content-security-policy"].startswith("default-src 'self'")
        assert "<script" not in resp.text()
        shot(server, page, label.lower().replace(" ", "-"))
    assert page.get_by_role("link", name="Organizations").count() == 0

    # create a role: Name, Description, one checkbox per permission
    role_name = f"Billing viewer {suffix}"
    page.get_by_role("navigation").get_by_role("link", name="Roles", exact=True).click()
    page.get_by_role("link", name="New role").click()
    assert page.get_by_label("api.users.read", exact=True).count() == 1
    shot(server, page, "role-new")
    # an error is reported next to the field, with the server's message
    page.get_by_label("Name", exact=True).fill("owner")
    page.get_by_role("button", name="Save role").click()
    assert page.locator("#name_error").inner_text().strip() != ""
    page.get_by_label("Name", exact=True).fill(role_name)
    page.get_by_label("Description").fill("reads members")
    page.get_by_label("api.users.read", exact=True).check()
    page.get_by_role("button", name="Save role").click()
    assert page.get_by_role("heading", name="Roles").is_visible()
    page.get_by_role("link", name=role_name).click()

    # edit it
    page.get_by_label("Description").fill("reads members and groups")
    page.get_by_label("api.groups.read", exact=True).check()
    page.get_by_role("button", name="Save role").click()
    assert page.get_by_label("Description").input_value() == "reads members and groups"
    assert page.get_by_label("api.groups.read", exact=True).is_checked()
    role_url = page.url

    # grant it to the member, found by searching their email
    page.get_by_role("navigation").get_by_role("link", name="Members", exact=True).click()
    page.get_by_label("Search").fill(member_email)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=member_email).click()
    page.get_by_label("Grant role").select_option(label=role_name)
    page.get_by_role("button", name="Grant").click()
    assert page.get_by_role("cell", name=role_name, exact=True).is_visible()
    assert page.get_by_role("cell", name="api.groups.read", exact=True).is_visible()
    shot(server, page, "member")

    # a group: create, add the member, grant it the role
    group_name = f"Readers {suffix}"
    page.get_by_role("navigation").get_by_role("link", name="Groups", exact=True).click()
    page.get_by_label("Name", exact=True).fill(group_name)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name=group_name).click()
    page.get_by_label("Add member (user id)").fill(member_id)
    page.get_by_role("button", name="Add").click()
    assert member_email in page.get_by_role("main").inner_text()
    page.get_by_label("Grant role to the group").select_option(label=role_name)
    page.get_by_role("button", name="Grant").click()
    assert page.get_by_role("listitem").filter(has_text=role_name).count() == 1
    shot(server, page, "group")

    # a project: create, add the member, archive
    project_name = f"Apollo {suffix}"
    page.get_by_role("navigation").get_by_role("link", name="Projects", exact=True).click()
    page.get_by_label("Name", exact=True).fill(project_name)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name=project_name).click()
    page.get_by_label("Add member (user id)").fill(member_id)
    page.get_by_role("button", name="Add").click()
    assert member_email in page.get_by_role("main").inner_text()
    shot(server, page, "project")
    page.get_by_role("button", name="Archive project").click()
    assert "archived" in page.get_by_role("main").inner_text()
    assert page.get_by_role("button", name="Archive project").count() == 0

    # check access: allowed through the role, denied without it
    page.get_by_role("navigation").get_by_role("link", name="Access", exact=True).click()
    page.get_by_label("User").fill(member_email)
    page.get_by_label("Permission", exact=True).fill("api.groups.read")
    page.get_by_role("button", name="Check access").click()
    status = page.get_by_role("status")
    assert "Allowed" in status.inner_text() and role_name in status.inner_text()
    shot(server, page, "access-check")
    page.get_by_label("User").fill(member_email)
    page.get_by_label("Permission", exact=True).fill("api.roles.write")
    page.get_by_role("button", name="Check access").click()
    assert "Denied" in page.get_by_role("status").inner_text()
    # an unknown permission: the server's message next to the field
    page.get_by_label("User").fill(member_email)
    page.get_by_label("Permission", exact=True).fill("no.such.permission")
    page.get_by_role("button", name="Check access").click()
    assert page.locator("#permission_error").inner_text().strip() != ""

    # who has it: the member, linked to their page
    page.get_by_label("Who has permission").fill("api.groups.read")
    page.get_by_role("button", name="List members").click()
    assert page.get_by_role("link", name=member_id).count() == 1

    # the organization's own permission: register, then delete
    perm = f"invoices{suffix}.read"
    page.get_by_role("navigation").get_by_role("link", name="Permissions", exact=True).click()
    page.get_by_label("Name", exact=True).fill(perm)
    page.get_by_role("button", name="Register").click()
    assert page.get_by_role("cell", name=perm, exact=True).is_visible()
    page.get_by_role("button", name=f"Delete permission {perm}").click()
    assert page.get_by_role("cell", name=perm, exact=True).count() == 0

    # an admin key: shown once, then revoked
    page.get_by_role("navigation").get_by_role("link", name="API keys", exact=True).click()
    page.get_by_label("Admin key name").fill(f"ci {suffix}")
    page.get_by_role("button", name="Create admin key").click()
    minted = page.locator(".secret").inner_text().strip()
    with http(server, minted) as api:
        assert api.get("/v1/organization/roles").status_code == 200
    page.get_by_role("navigation").get_by_role("link", name="API keys", exact=True).click()
    assert minted not in page.content()
    page.get_by_role("button", name=f"Revoke key ci {suffix}").click()
    with http(server, minted) as api:
        assert api.get("/v1/organization/roles").status_code == 401

    # the role's creation is in the audit log
    page.get_by_role("navigation").get_by_role("link", name="Audit log", exact=True).click()
    page.get_by_label("Event type").fill("role.created")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("cell", name="role.created").count() >= 1
    assert role_name in (page.locator("table").text_content() or "")
    shot(server, page, "audit-log-filtered")

    # a POST without the CSRF token: 403, nothing changes
    forged = page.request.post(
        f"{server.base_url}/console/roles/new",
        form={"name": f"forged {suffix}", "permissions": "api.users.read"},
    )
    assert forged.status == 403
    with http(server, server.admin_key) as api:
        names = [r["name"] for r in api.get("/v1/organization/roles").json()["data"]]
    assert f"forged {suffix}" not in names and role_name in names

    # delete the role: the page first says who loses what
    page.goto(role_url)
    preview = page.get_by_role("heading", name="Delete this role").locator("xpath=following-sibling::ul[1]")
    assert "api.groups.read: 1 member" in preview.inner_text()
    shot(server, page, "role-delete")
    page.get_by_role("button", name="Delete role").click()
    assert page.get_by_role("link", name=role_name).count() == 0
    with http(server, server.admin_key) as api:
        names = [r["name"] for r in api.get("/v1/organization/roles").json()["data"]]
    assert role_name not in names

    # invite someone and accept through the invitation's page
    invitee = f"cai-{suffix}@example.com"
    page.get_by_role("navigation").get_by_role("link", name="Invites", exact=True).click()
    page.get_by_label("Email").fill(invitee)
    page.get_by_label("Role", exact=True).select_option("reader")
    page.get_by_role("button", name="Create invitation").click()
    link = page.locator(".secret").inner_text().strip()
    assert "token=" in link
    shot(server, page, "invite-created")
    guest = browser.new_context()
    gp = guest.new_page()
    gp.goto(link if link.startswith("http") else f"{server.base_url}{link}")
    gp.get_by_label("Your name").fill("Cai")
    shot(server, gp, "invite-accept")
    gp.get_by_role("button", name="Accept the invitation").click()
    assert "Invitation accepted" in gp.get_by_role("heading", level=1).inner_text()
    guest.close()
    with http(server, server.admin_key) as api:
        r = api.get("/v1/organization/users", params={"emails[]": invitee})
        assert [u["role"] for u in r.json()["data"]] == ["reader"]

    # sign out ends the session
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{server.base_url}/console/members")
    assert page.get_by_label("API key").is_visible()

    # a revoked key's session ends on its next request
    with http(server, server.admin_key) as api:
        r = api.post("/v1/organization/admin_api_keys", json={"name": f"console {suffix}"})
        assert r.status_code == 200, r.text
        key = r.json()
    sign_in(page, server, key["value"])
    assert page.get_by_role("heading", name="Overview").is_visible()
    with http(server, server.admin_key) as api:
        assert api.delete(f"/v1/organization/admin_api_keys/{key['id']}").status_code == 200
    page.goto(f"{server.base_url}/console/members")
    assert page.get_by_label("API key").is_visible()
    assert "session has ended" in page.get_by_role("status").inner_text()
    # and its cookie no longer names a session
    page.goto(f"{server.base_url}/console/roles")
    assert page.get_by_label("API key").is_visible()
    ctx.close()

    # the root key: platform operators see Organizations
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, server, server.root_key)
    assert page.get_by_role("heading", name="Organizations").is_visible()
    page.get_by_label("Name", exact=True).fill(f"Console org {suffix}")
    page.get_by_label("Owner email").fill(f"own-{suffix}@example.com")
    page.get_by_role("button", name="Create organization").click()
    assert re.search(r"sk-admin-", page.locator(".secret").inner_text())
    assert page.get_by_role("cell", name=f"Console org {suffix}", exact=True).is_visible()
    shot(server, page, "organizations")
    page.get_by_label(f"New name for Console org {suffix}").fill(f"Renamed org {suffix}")
    page.get_by_role("button", name=f"Rename Console org {suffix}").click()
    assert page.get_by_role("cell", name=f"Renamed org {suffix}", exact=True).is_visible()
    page.get_by_role("button", name=f"Recovery key for Renamed org {suffix}").click()
    recovery = page.locator(".secret").inner_text().strip()
    with http(server, recovery) as api:
        assert api.get("/v1/organization/roles").status_code == 200
    ctx.close()


def test_session_works_on_every_process_and_csrf_guards_each_form(server, backend, tmp_path):
    """A session started on one process is served by another on the same database; signing
    out on the second ends it on the first; a form without the session's CSRF token is refused
    with 403 on either, and the role it would have created does not exist."""
    import subprocess
    import time

    from conftest import free_port, orgiam_bin, _stop
    import httpx2 as httpx

    port = free_port()
    env = dict(os.environ, ORGIAM_ROOT_KEY=server.root_key)
    with open(tmp_path / "second.log", "wb") as log:
        proc = subprocess.Popen(
            [str(orgiam_bin()), "serve", "--listen", f"127.0.0.1:{port}", "--database", backend.database_url,
             "--public-url", "https://iam.example.com"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=tmp_path,
        )
    second = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30.0, trust_env=False) as c:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if c.get(f"{second}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "second.log").read_text()
                time.sleep(0.1)
            # the sign-in form is guarded too: its token must match its cookie
            r = c.post(f"{server.base_url}/console/login", data={"api_key": server.admin_key})
            assert r.status_code == 403 and "set-cookie" not in r.headers
            form = c.get(f"{server.base_url}/console/login")
            login_token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            login_cookie = form.headers["set-cookie"].split(";")[0]
            c.cookies.clear()
            r = c.post(
                f"{server.base_url}/console/login",
                data={"api_key": server.admin_key, "csrf": login_token[::-1] + "x"},
                headers={"Cookie": login_cookie},
            )
            assert r.status_code == 403 and "set-cookie" not in r.headers
            r = c.post(
                f"{server.base_url}/console/login",
                data={"api_key": server.admin_key, "csrf": login_token},
                headers={"Cookie": login_cookie},
            )
            assert r.status_code == 303
            c.cookies.clear()
            set_cookie = r.headers["set-cookie"]
            assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/console" in set_cookie
            assert "Secure" not in set_cookie  # no https public URL here
            cookie = set_cookie.split(";")[0]
            page = c.get(f"{second}/console/members", headers={"Cookie": cookie})
            assert page.status_code == 200 and "<h1>Members</h1>" in page.text
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            name = f"no token {secrets.token_hex(3)}"
            for base in (server.base_url, second):
                for form in ({"name": name}, {"name": name, "csrf": "wrong"}):
                    r = c.post(f"{base}/console/roles/new", data=form, headers={"Cookie": cookie})
                    assert r.status_code == 403
            with http(server, server.admin_key) as api:
                assert name not in [x["name"] for x in api.get("/v1/organization/roles").json()["data"]]
            r = c.post(f"{second}/console/logout", data={"csrf": token}, headers={"Cookie": cookie})
            assert r.status_code == 200 and 'name="api_key"' in r.text
            again = c.get(f"{server.base_url}/console/members", headers={"Cookie": cookie})
            assert 'name="api_key"' in again.text and "<h1>Members</h1>" not in again.text

            # behind an https public URL the cookies are Secure
            form = c.get(f"{second}/console/login")
            assert "Secure" in form.headers["set-cookie"]
            login_token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            c.cookies.clear()
            r = c.post(
                f"{second}/console/login",
                data={"api_key": server.admin_key, "csrf": login_token},
                headers={"Cookie": form.headers["set-cookie"].split(";")[0]},
            )
            assert r.status_code == 303
            assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    finally:
        _stop(proc)
