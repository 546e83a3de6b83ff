"""End-to-end tests of the SCIM 2.0 service provider at /scim/v2, on both backends.

Driven two ways:
- the `scim2-client` package (with `scim2-models`), which discovers the server's schemas and
  validates every response against them;
- raw request bodies in the shapes Okta and Microsoft Entra ID send, written from their public
  documentation (Okta: "SCIM 2.0 protocol reference" and "Build a SCIM provisioning
  integration"; Microsoft: "Tutorial: Develop and plan provisioning for a SCIM endpoint in
  Microsoft Entra ID", its "Request and response examples").

Every test makes its own organization, so the shared server's state never couples them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    ListResponse,
    PatchOp,
    PatchOperation,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
    User,
)

from conftest import Server, http, new_org

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def uniq(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Org:
    """An organization with its owner's admin key and a SCIM token."""

    def __init__(self, server: Server, default_role: str | None = None) -> None:
        self.server = server
        created = new_org(server, uniq("org"), f"{uniq('owner')}@example.com", "Owner")
        self.id = created["id"]
        self.admin = created["admin_api_key"]["value"]
        body: dict[str, Any] = {"name": "Okta"}
        if default_role:
            body["default_role"] = default_role
        with http(server, self.admin) as c:
            r = c.post("/v1/organization/scim_tokens", json=body)
        assert r.status_code == 200, r.text
        self.token_object = r.json()
        self.token = self.token_object["value"]

    def v1(self) -> Any:
        return http(self.server, self.admin)

    def scim(self) -> Any:
        """A raw client on /scim/v2 with the SCIM token."""
        return http(self.server, self.token, headers={"Content-Type": "application/scim+json"})

    def client(self) -> SyncSCIMClient:
        """A discovered scim2-client on /scim/v2."""
        raw = http(self.server, self.token)
        raw.base_url = f"{self.server.base_url}/scim/v2"
        c = SyncSCIMClient(raw)
        c.discover()
        return c


def scim_error(r: Any, status: int, scim_type: str | None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    assert body["detail"]
    return body


def check(org: Org, user_id: str, permission: str) -> bool:
    with org.v1() as c:
        r = c.post("/v1/organization/permissions/check", json={"user_id": user_id, "permission": permission})
    assert r.status_code == 200, r.text
    return r.json()["allowed"]


def audit_types(org: Org) -> list[str]:
    with org.v1() as c:
        r = c.get("/v1/organization/audit_logs", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["data"]]


# ---------------------------------------------------------------------------
# tokens and who may call what
# ---------------------------------------------------------------------------


def test_scim_tokens_are_shown_once_listed_redacted_and_revocable(server: Server) -> None:
    org = Org(server)
    assert org.token.startswith("sk-scim-") and len(org.token) > 40
    assert org.token_object["object"] == "organization.scim_token"
    assert org.token_object["default_role"] == "member"
    with org.v1() as c:
        listed = c.get("/v1/organization/scim_tokens").json()
        assert [t["id"] for t in listed["data"]] == [org.token_object["id"]]
        assert "value" not in listed["data"][0]
        assert org.token not in str(listed)
        assert listed["data"][0]["redacted_value"].startswith("sk-scim-")
        bad = c.post("/v1/organization/scim_tokens", json={"name": "x", "default_role": "king"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "default_role"
    with org.scim() as s:
        assert s.get("/scim/v2/Users").status_code == 200
    with org.v1() as c:
        r = c.delete(f"/v1/organization/scim_tokens/{org.token_object['id']}")
        assert r.status_code == 200 and r.json()["deleted"] is True
        assert c.delete(f"/v1/organization/scim_tokens/{org.token_object['id']}").status_code == 404
    with org.scim() as s:
        scim_error(s.get("/scim/v2/Users"), 401, None)
    assert "scim_token.created" in audit_types(org) and "scim_token.deleted" in audit_types(org)


def test_a_scim_token_reaches_only_scim_of_its_org_and_scim_takes_only_scim_tokens(server: Server) -> None:
    a, b = Org(server), Org(server)
    with a.scim() as s:
        created = s.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"{uniq()}@a.example"})
        assert created.status_code == 201, created.text
        a_user = created.json()["id"]
    # a SCIM token on the native API: 401
    with http(server, a.token) as c:
        for path in ("/v1/organization/users", "/v1/organization/scim_tokens", "/v1/organization/groups"):
            r = c.get(path)
            assert r.status_code == 401, (path, r.text)
    # an org admin key (even of the same org) on SCIM: 401
    with http(server, a.admin) as c:
        scim_error(c.get("/scim/v2/Users"), 401, None)
        scim_error(c.get(f"/scim/v2/Users/{a_user}"), 401, None)
    with http(server) as c:
        scim_error(c.get("/scim/v2/ServiceProviderConfig"), 401, None)
    # org B's token sees none of org A
    with b.scim() as s:
        scim_error(s.get(f"/scim/v2/Users/{a_user}"), 404, None)
        everyone = s.get("/scim/v2/Users").json()
        # B's own owner only
        assert everyone["totalResults"] == 1 and a_user not in str(everyone)
        assert s.get("/scim/v2/Users", params={"filter": f'id eq "{a_user}"'}).json()["totalResults"] == 0
        scim_error(s.patch(f"/scim/v2/Users/{a_user}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}), 404, None)
        scim_error(s.delete(f"/scim/v2/Users/{a_user}"), 404, None)
    with a.scim() as s:
        assert s.get(f"/scim/v2/Users/{a_user}").json()["active"] is True


# ---------------------------------------------------------------------------
# scim2-client
# ---------------------------------------------------------------------------


def test_discovery_describes_what_is_supported(server: Server) -> None:
    org = Org(server)
    scim = org.client()
    spc = scim.query(ServiceProviderConfig)
    assert spc.patch.supported is True
    assert spc.filter.supported is True and spc.filter.max_results == 200
    assert spc.bulk.supported is False and spc.sort.supported is False
    assert spc.etag.supported is False and spc.change_password.supported is False
    assert spc.authentication_schemes[0].type == "oauthbearertoken"
    assert scim.get_resource_model("User") is not None
    assert scim.get_resource_model("Group") is not None
    with org.scim() as s:
        r = s.get("/scim/v2/ResourceTypes/User")
        assert r.status_code == 200 and r.json()["schemaExtensions"][0]["schema"] == ENTERPRISE
        assert s.get(f"/scim/v2/Schemas/{USER}").json()["id"] == USER
        scim_error(s.get("/scim/v2/Schemas/urn:nope"), 404, None)
        scim_error(s.get("/scim/v2/Bulk"), 404, None)


def test_users_lifecycle_with_scim2_client(server: Server) -> None:
    org = Org(server)
    scim = org.client()
    UserModel = scim.get_resource_model("User")
    email = f"{uniq('bjensen')}@example.com"
    user = UserModel(
        user_name=email,
        name={"givenName": "Barbara", "familyName": "Jensen"},
        display_name="Babs Jensen",
        emails=[{"value": email, "primary": True, "type": "work"}],
        external_id="okta-00u1",
        active=True,
        title="Engineer",
    )
    Enterprise = UserModel.get_extension_model(ENTERPRISE)
    assert Enterprise is not None
    user[Enterprise] = Enterprise(department="R&D", employee_number="701")
    created = scim.create(user)
    assert created.id.startswith("user_")
    assert created.user_name == email and created.display_name == "Babs Jensen"
    assert created.external_id == "okta-00u1" and created.active is True
    assert created.title == "Engineer"
    assert created[Enterprise].department == "R&D"
    assert created.meta.resource_type == "User"
    assert created.meta.location.endswith(f"/scim/v2/Users/{created.id}")
    assert created.meta.version and created.meta.created and created.meta.last_modified

    fetched = scim.query(UserModel, created.id)
    assert fetched.user_name == email and fetched.name.given_name == "Barbara"

    found = scim.query(UserModel, query_parameters=SearchRequest(filter=f'userName eq "{email.upper()}"'))
    assert isinstance(found, ListResponse) and found.total_results == 1
    assert found.resources[0].id == created.id

    fetched.display_name = "Barbara J."
    replaced = scim.replace(fetched)
    assert replaced.display_name == "Barbara J."
    assert replaced.meta.version != created.meta.version

    op = PatchOp[UserModel](operations=[PatchOperation(op="replace", path="title", value="Lead")])
    scim.modify(UserModel, created.id, op)
    assert scim.query(UserModel, created.id).title == "Lead"

    # the native API shows the SCIM-created member as SCIM-managed, with the token's base role
    with org.v1() as c:
        u = c.get(f"/v1/organization/users/{created.id}").json()
        assert u["is_scim_managed"] is True and u["role"] == "member" and u["name"] == "Barbara J."
        owner = c.get("/v1/organization/users").json()["data"]
        assert any(x["is_scim_managed"] is False for x in owner)

    with pytest.raises(SCIMException) as dup:
        scim.create(UserModel(user_name=email.upper()))
    assert dup.value.to_error().scim_type == "uniqueness"

    scim.delete(UserModel, created.id)
    with org.v1() as c:
        assert c.get(f"/v1/organization/users/{created.id}").status_code == 404
    types = audit_types(org)
    for t in ("user.added", "user.updated", "user.deleted"):
        assert t in types, types


def test_groups_with_scim2_client_grant_their_roles_to_members(server: Server) -> None:
    org = Org(server)
    scim = org.client()
    UserModel = scim.get_resource_model("User")
    GroupModel = scim.get_resource_model("Group")
    u1 = scim.create(UserModel(user_name=f"{uniq()}@example.com"))
    u2 = scim.create(UserModel(user_name=f"{uniq()}@example.com"))
    g = scim.create(GroupModel(display_name=uniq("eng"), external_id="grp-1", members=[{"value": u1.id}]))
    assert g.id.startswith("group_") and [m.value for m in g.members] == [u1.id]
    assert g.meta.resource_type == "Group"

    # a role given to the group applies to its members at once
    with org.v1() as c:
        r = c.post(f"/v1/organization/groups/{g.id}/roles", json={"role_id": "role_00000000000000000000000004"})
        assert r.status_code == 200, r.text
    assert check(org, u1.id, "api.users.read") is True
    assert check(org, u2.id, "api.users.read") is False

    g.members = [{"value": u2.id}]
    replaced = scim.replace(g)
    assert [m.value for m in replaced.members] == [u2.id]
    assert check(org, u1.id, "api.users.read") is False
    assert check(org, u2.id, "api.users.read") is True

    listed = scim.query(GroupModel, query_parameters=SearchRequest(filter=f'displayName eq "{g.display_name.upper()}"'))
    assert listed.total_results == 1 and listed.resources[0].id == g.id
    u2_groups = scim.query(UserModel, u2.id).groups
    assert [x.value for x in u2_groups] == [g.id]

    # the native group objects say the identity provider manages the group
    with org.v1() as c:
        assert c.get(f"/v1/organization/groups/{g.id}").json()["is_scim_managed"] is True
        native = c.post("/v1/organization/groups", json={"name": uniq("native")}).json()
        assert native["is_scim_managed"] is False

    scim.delete(GroupModel, g.id)
    assert check(org, u2.id, "api.users.read") is False
    types = audit_types(org)
    for t in ("group.created", "group.user.added", "group.user.removed", "group.deleted"):
        assert t in types, types


# ---------------------------------------------------------------------------
# filters and paging
# ---------------------------------------------------------------------------


def test_filters_and_paging(server: Server) -> None:
    org = Org(server)
    tag = uniq("f")
    ids = {}
    with org.scim() as s:
        for i, (given, ext, active) in enumerate([("Ann", "e-1", True), ("Bob", "e-2", True), ("Cid", "x-3", False)]):
            r = s.post("/scim/v2/Users", json={
                "schemas": [USER],
                "userName": f"{given.lower()}.{tag}@corp{i}.example",
                "displayName": f"{given} {tag}",
                "externalId": ext,
                "active": active,
            })
            assert r.status_code == 201, r.text
            ids[given] = r.json()["id"]
            if i == 0:
                # the first one's: every later user was created at or after it
                created = r.json()["meta"]["created"]

        def names(flt: str, **params: Any) -> list[str]:
            r = s.get("/scim/v2/Users", params={"filter": flt, **params})
            assert r.status_code == 200, (flt, r.text)
            assert r.headers["content-type"].startswith("application/scim+json")
            body = r.json()
            assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
            return sorted(u["displayName"].split()[0] for u in body["Resources"] if u.get("displayName", "").endswith(tag))

        assert names(f'userName eq "ANN.{tag}@corp0.example"') == ["Ann"]
        assert names(f'emails.value eq "bob.{tag}@corp1.example"') == ["Bob"]
        assert names(f'emails[value eq "bob.{tag}@corp1.example"]') == ["Bob"]
        assert names(f'displayName co "{tag}" and externalId ne "e-1"') == ["Bob", "Cid"]
        assert names(f'displayName sw "b" and displayName ew "{tag}"') == ["Bob"]
        assert names('externalId sw "e-"') == ["Ann", "Bob"]
        assert names("active eq false") == ["Cid"]
        assert names('active eq "true" and externalId pr') == ["Ann", "Bob"]
        assert names(f'not (externalId eq "e-1") and displayName co "{tag}"') == ["Bob", "Cid"]
        # an absent attribute fails every comparison but ne, so `not` includes it
        r = s.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"dan.{tag}@corp3.example", "displayName": f"Dan {tag}"})
        assert r.status_code == 201, r.text
        ids["Dan"] = r.json()["id"]
        assert names(f'not (externalId eq "e-1") and displayName co "{tag}"') == ["Bob", "Cid", "Dan"]
        assert names(f'externalId ne "e-1" and displayName co "{tag}"') == ["Bob", "Cid", "Dan"]
        assert names(f'externalId sw "" and displayName co "{tag}"') == ["Ann", "Bob", "Cid"]
        assert names(f'not (externalId pr) and displayName co "{tag}"') == ["Dan"]
        assert names('(externalId eq "e-1" or externalId eq "x-3") and active eq true') == ["Ann"]
        assert names(f'meta.created ge "{created}" and displayName co "{tag}"') == ["Ann", "Bob", "Cid", "Dan"]
        assert names('meta.created lt "2000-01-01T00:00:00Z"') == []
        assert names('meta.lastModified gt "2000-01-01T00:00:00Z" and externalId eq "x-3"') == ["Cid"]

        # startIndex is 1-based; count caps the page; totalResults counts every match
        all_ids = sorted(ids.values())
        seen = []
        for start in (1, 2, 3, 4):
            page = s.get("/scim/v2/Users", params={"filter": f'displayName co "{tag}"', "startIndex": start, "count": 1}).json()
            assert page["totalResults"] == 4 and page["startIndex"] == start
            assert page["itemsPerPage"] == len(page["Resources"]) == 1
            seen += [u["id"] for u in page["Resources"]]
        assert seen == all_ids
        past = s.get("/scim/v2/Users", params={"filter": f'displayName co "{tag}"', "startIndex": 5, "count": 1}).json()
        assert past["totalResults"] == 4 and past["Resources"] == []
        assert s.get("/scim/v2/Users", params={"count": 0}).json()["Resources"] == []
        assert len(s.get("/scim/v2/Users", params={"count": 100000}).json()["Resources"]) == 5

        for bad in ['userName eq', 'userName zz "a"', '(userName eq "a"', 'title eq "x"', 'active co "t"',
                    'meta.created gt "yesterday"', 'userName eq unquoted', '"a" eq userName']:
            scim_error(s.get("/scim/v2/Users", params={"filter": bad}), 400, "invalidFilter")
        scim_error(s.get("/scim/v2/Users", params={"startIndex": "one"}), 400, "invalidValue")
        scim_error(s.get("/scim/v2/Groups", params={"filter": 'userName eq "x"'}), 400, "invalidFilter")


# ---------------------------------------------------------------------------
# suspension
# ---------------------------------------------------------------------------


def test_active_false_suspends_and_active_true_restores(server: Server) -> None:
    org = Org(server, default_role="reader")
    with org.scim() as s:
        r = s.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"{uniq()}@example.com", "active": True})
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
    with org.v1() as c:
        key = c.post(f"/v1/organization/users/{uid}/api_keys", json={"name": "laptop"}).json()["value"]
        grant = c.post(f"/v1/organization/users/{uid}/roles", json={"role_id": "role_00000000000000000000000002"})
        assert grant.status_code == 200, grant.text
    with http(server, key) as mine:
        assert mine.get("/v1/organization/users").status_code == 200
    assert check(org, uid, "api.users.read") is True

    # Entra's form: the string "False"
    with org.scim() as s:
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False
        assert s.get("/scim/v2/Users", params={"filter": f'id eq "{uid}" and active eq false'}).json()["totalResults"] == 1
    with http(server, key) as mine:
        assert mine.get("/v1/organization/users").status_code == 401
    assert check(org, uid, "api.users.read") is False
    assert check(org, uid, "api.organization.read") is False
    with org.v1() as c:
        # nothing was deleted: the member, their grant and their key are still there
        assert c.get(f"/v1/organization/users/{uid}").status_code == 200
        roles = c.get(f"/v1/organization/users/{uid}/roles").json()["data"]
        assert any(x["id"] == "role_00000000000000000000000002" for x in roles)
        assert len(c.get(f"/v1/organization/users/{uid}/api_keys").json()["data"]) == 1

    # Okta's form: replace with a value object and no path
    with org.scim() as s:
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]})
        assert r.status_code == 200 and r.json()["active"] is True
    with http(server, key) as mine:
        assert mine.get("/v1/organization/users").status_code == 200
    assert check(org, uid, "api.users.read") is True


def test_the_last_active_owner_cannot_be_suspended(server: Server) -> None:
    org = Org(server)
    with org.v1() as c:
        owner = c.get("/v1/organization/users").json()["data"][0]["id"]
    with org.scim() as s:
        r = s.patch(f"/scim/v2/Users/{owner}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
        scim_error(r, 409, "uniqueness")
    assert check(org, owner, "api.users.write") is True


# ---------------------------------------------------------------------------
# recorded request bodies: Okta
# ---------------------------------------------------------------------------


def test_okta_request_shapes(server: Server) -> None:
    org = Org(server)
    email = f"{uniq('isabell.provisioning')}@example.com"
    with org.scim() as s:
        # Okta checks whether the user exists first
        r = s.get("/scim/v2/Users", params={"filter": f'userName eq "{email}"', "startIndex": 1, "count": 100})
        assert r.status_code == 200 and r.json()["totalResults"] == 0 and r.json()["Resources"] == []
        # create
        r = s.post("/scim/v2/Users", json={
            "schemas": [USER],
            "userName": email,
            "name": {"givenName": "Isabell", "familyName": "Provisioning"},
            "emails": [{"primary": True, "value": email, "type": "work"}],
            "displayName": "Isabell Provisioning",
            "locale": "en-US",
            "externalId": "00u1dhhb1fkIGP7RL1d8",
            "groups": [],
            "password": "1mz050nq",
            "active": True,
        })
        assert r.status_code == 201, r.text
        user = r.json()
        assert "password" not in user and user["locale"] == "en-US"
        assert r.headers["location"].endswith(f"/scim/v2/Users/{user['id']}")
        uid = user["id"]
        # profile update: PUT of the whole user
        put = dict(user)
        put.pop("meta")
        put["name"] = {"givenName": "Isabella", "familyName": "Provisioning"}
        put["displayName"] = "Isabella Provisioning"
        r = s.put(f"/scim/v2/Users/{uid}", json=put)
        assert r.status_code == 200, r.text
        assert r.json()["name"]["givenName"] == "Isabella" and r.json()["displayName"] == "Isabella Provisioning"
        # deactivate
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
        assert r.status_code == 200 and r.json()["active"] is False
        # reactivate
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]})
        assert r.status_code == 200 and r.json()["active"] is True
        # a second user for group push
        r2 = s.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"{uniq()}@example.com", "name": {"givenName": "Test", "familyName": "User"}, "active": True})
        uid2 = r2.json()["id"]
        assert r2.json()["displayName"] == "Test User"
        # group push: create with members
        name = uniq("Test SCIMv2")
        r = s.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": name, "members": [{"value": uid, "display": email}]})
        assert r.status_code == 201, r.text
        gid = r.json()["id"]
        # rename: Okta repeats the id in the value object
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": name + " renamed"}}]})
        assert r.status_code == 200 and r.json()["displayName"] == name + " renamed"
        # membership: add, then remove with a filter path
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid2, "display": "test.user@example.com"}]}]})
        assert sorted(m["value"] for m in r.json()["members"]) == sorted([uid, uid2])
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{uid}"]'}]})
        assert [m["value"] for m in r.json()["members"]] == [uid2]
        # Okta's group list lookups
        r = s.get("/scim/v2/Groups", params={"filter": f'displayName eq "{name} renamed"', "startIndex": 1, "count": 100})
        assert r.json()["totalResults"] == 1
        assert s.delete(f"/scim/v2/Groups/{gid}").status_code == 204
        scim_error(s.get(f"/scim/v2/Groups/{gid}"), 404, None)


# ---------------------------------------------------------------------------
# recorded request bodies: Microsoft Entra ID
# ---------------------------------------------------------------------------


def test_entra_request_shapes(server: Server) -> None:
    org = Org(server)
    upn = f"{uniq('Test_User')}@contoso.com"
    with org.scim() as s:
        r = s.get("/scim/v2/Users", params={"filter": f'userName eq "{upn}"'})
        assert r.json()["totalResults"] == 0
        r = s.post("/scim/v2/Users", json={
            "schemas": [USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": upn,
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": upn}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            ENTERPRISE: {"department": "Sales", "employeeNumber": "42"},
        })
        assert r.status_code == 201, r.text
        user = r.json()
        uid = user["id"]
        assert user["displayName"] == "givenName familyName"
        assert ENTERPRISE in user["schemas"] and user[ENTERPRISE]["department"] == "Sales"
        # Entra also looks users up by externalId
        r = s.get("/scim/v2/Users", params={"filter": 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'})
        assert [u["id"] for u in r.json()["Resources"]] == [uid]
        # the PATCH Entra sends on an attribute change
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Test User 2"},
            {"op": "Add", "path": 'emails[type eq "other"].value', "value": "other@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": "mgr-1"}},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
        ]})
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["displayName"] == "Test User 2" and u["name"]["familyName"] == "updatedFamilyName"
        assert {"type": "other", "value": "other@contoso.com"} in u["emails"]
        assert u[ENTERPRISE] == {"department": "Marketing", "employeeNumber": "42", "manager": {"value": "mgr-1"}}
        # no path, URN keys in the value object, the boolean as a string
        r = s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "value": {"active": "False", f"{ENTERPRISE}:department": "Ops", "name.givenName": "G"}},
        ]})
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False and r.json()[ENTERPRISE]["department"] == "Ops" and r.json()["name"]["givenName"] == "G"
        # groups
        r = s.post("/scim/v2/Groups", json={"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": uniq("Group1"), "meta": {"resourceType": "Group"}, "schemas": [GROUP], "members": []})
        assert r.status_code == 201, r.text
        gid = r.json()["id"]
        assert r.json()["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
        r = s.get("/scim/v2/Groups", params={"excludedAttributes": "members", "filter": 'externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"'})
        assert r.json()["totalResults"] == 1 and "members" not in r.json()["Resources"][0]
        r = s.get(f"/scim/v2/Groups/{gid}", params={"excludedAttributes": "members"})
        assert "members" not in r.json()
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}]})
        assert r.status_code == 200 and [m["value"] for m in r.json()["members"]] == [uid]
        r = s.get("/scim/v2/Groups", params={"filter": f'id eq "{gid}" and members[value eq "{uid}"]', "excludedAttributes": "members"})
        assert r.json()["totalResults"] == 1
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": uid}]}]})
        assert r.status_code == 200 and r.json()["members"] == []
        r = s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]})
        assert r.json()["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
        assert s.delete(f"/scim/v2/Users/{uid}").status_code == 204
        scim_error(s.get(f"/scim/v2/Users/{uid}"), 404, None)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_errors_use_the_scim_schema_and_change_nothing(server: Server) -> None:
    org = Org(server)
    email = f"{uniq()}@example.com"
    with org.scim() as s:
        uid = s.post("/scim/v2/Users", json={"schemas": [USER], "userName": email}).json()["id"]
        scim_error(s.post("/scim/v2/Users", json={"schemas": [USER], "userName": email.upper()}), 409, "uniqueness")
        scim_error(s.post("/scim/v2/Users", json={"schemas": [USER]}), 400, "invalidValue")
        scim_error(s.post("/scim/v2/Users", json={"schemas": [USER], "userName": "not an email"}), 400, "invalidValue")
        scim_error(s.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"{uniq()}@x.example", "active": "maybe"}), 400, "invalidValue")
        scim_error(s.post("/scim/v2/Users", content=b"{not json"), 400, "invalidSyntax")
        scim_error(s.put(f"/scim/v2/Users/{uid}", json={"schemas": [USER], "userName": "other@example.com"}), 400, "mutability")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "remove"}]}), 400, "noTarget")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}), 400, "mutability")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "groups", "value": []}]}), 400, "mutability")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": 'emails[type eq "fax"].value', "value": "x"}]}), 400, "noTarget")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}), 400, "invalidPath")
        scim_error(s.patch(f"/scim/v2/Users/{uid}", json={"Operations": []}), 400, "invalidSyntax")
        scim_error(s.get("/scim/v2/Users/user_01ZZZZZZZZZZZZZZZZZZZZZZZZ"), 404, None)
        gname = uniq("g")
        gid = s.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": gname}).json()["id"]
        scim_error(s.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": gname.upper()}), 409, "uniqueness")
        scim_error(s.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": uniq("g"), "members": [{"value": "user_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}]}), 400, "invalidValue")
        scim_error(s.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]}), 400, "invalidValue")
        # nothing of the refused requests happened
        u = s.get(f"/scim/v2/Users/{uid}").json()
        assert u["userName"] == email and u["active"] is True
        assert s.get(f"/scim/v2/Groups/{gid}").json()["members"] == []
        assert s.get("/scim/v2/Groups").json()["totalResults"] == 1
