//! Discovery (RFC 7644 §4): what this service provider supports, exactly. Patch and filter
//! yes (filter with its `maxResults`), no bulk, no sort, no change-password, no entity tags
//! (`meta.version` is given but `If-Match` is not honoured), bearer tokens.
//! Discovery needs a SCIM token too, like every `/scim/v2` route.

use axum::extract::Path;
use axum::http::StatusCode;
use orgiam_core::Error;
use serde_json::{Value, json};

use super::auth::ScimAuth;
use super::errors::ScimResult;
use super::patch::{ENTERPRISE_URN, GROUP_URN, USER_URN};
use super::{BASE, MAX_RESULTS, ScimJson, list_response};

const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

fn meta(kind: &str, location: String) -> Value {
    json!({ "resourceType": kind, "location": location })
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(_auth: ScimAuth) -> ScimJson {
    ScimJson(
        StatusCode::OK,
        json!({
            "schemas": [SPC_URN],
            "documentationUri": "https://github.com/orgiam/orgiam/blob/main/docs/SCIM.md",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "A token from POST /v1/organization/scim_tokens, sent as 'Authorization: Bearer sk-scim-…'",
                "primary": true,
            }],
            "meta": meta("ServiceProviderConfig", format!("{BASE}/ServiceProviderConfig")),
        }),
    )
}

fn resource_type_list() -> Vec<Value> {
    vec![
        json!({
            "schemas": [RT_URN],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A member of the organization",
            "schema": USER_URN,
            "schemaExtensions": [{ "schema": ENTERPRISE_URN, "required": false }],
            "meta": meta("ResourceType", format!("{BASE}/ResourceTypes/User")),
        }),
        json!({
            "schemas": [RT_URN],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of the organization; its role grants apply to its members",
            "schema": GROUP_URN,
            "meta": meta("ResourceType", format!("{BASE}/ResourceTypes/Group")),
        }),
    ]
}

/// `GET /ResourceTypes`.
pub async fn resource_types(_auth: ScimAuth) -> ScimJson {
    let all = resource_type_list();
    list_response(all.len() as i64, 1, all)
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(_auth: ScimAuth, Path(name): Path<String>) -> ScimResult<ScimJson> {
    resource_type_list()
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&name))
        })
        .map(|r| ScimJson(StatusCode::OK, r))
        .ok_or_else(|| Error::not_found("resource type", &name).into())
}

/// One attribute definition.
fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    mutability: &str,
    unique: &str,
    case_exact: bool,
) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": "",
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": unique,
    })
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, mutability, "none", false);
    a["subAttributes"] = Value::Array(subs);
    a
}

fn s(name: &str) -> Value {
    attr(name, "string", false, false, "readWrite", "none", false)
}

fn multi_string_values(name: &str) -> Value {
    complex(
        name,
        true,
        "readWrite",
        vec![
            s("value"),
            s("display"),
            s("type"),
            attr(
                "primary",
                "boolean",
                false,
                false,
                "readWrite",
                "none",
                false,
            ),
        ],
    )
}

fn schema_list() -> Vec<Value> {
    let user = json!({
        "schemas": [SCHEMA_URN],
        "id": USER_URN,
        "name": "User",
        "description": "A member of the organization. userName is the email (unique, case-insensitive, immutable through SCIM); displayName is the name shown in the organization; active: false suspends the member.",
        "attributes": [
            attr("userName", "string", false, true, "readWrite", "server", false),
            complex("name", false, "readWrite", vec![s("formatted"), s("familyName"), s("givenName"), s("middleName"), s("honorificPrefix"), s("honorificSuffix")]),
            s("displayName"), s("nickName"), attr("profileUrl", "reference", false, false, "readWrite", "none", false),
            s("title"), s("userType"), s("preferredLanguage"), s("locale"), s("timezone"),
            attr("active", "boolean", false, false, "readWrite", "none", false),
            attr("externalId", "string", false, false, "readWrite", "none", true),
            multi_string_values("emails"), multi_string_values("phoneNumbers"),
            complex("addresses", true, "readWrite", vec![s("formatted"), s("streetAddress"), s("locality"), s("region"), s("postalCode"), s("country"), s("type"), attr("primary", "boolean", false, false, "readWrite", "none", false)]),
            complex("groups", true, "readOnly", vec![s("value"), attr("$ref", "reference", false, false, "readOnly", "none", false), s("display"), s("type")]),
        ],
        "meta": meta("Schema", format!("{BASE}/Schemas/{USER_URN}")),
    });
    let group = json!({
        "schemas": [SCHEMA_URN],
        "id": GROUP_URN,
        "name": "Group",
        "description": "A group of the organization",
        "attributes": [
            attr("displayName", "string", false, true, "readWrite", "server", false),
            attr("externalId", "string", false, false, "readWrite", "none", true),
            complex("members", true, "readWrite", vec![s("value"), attr("$ref", "reference", false, false, "immutable", "none", false), s("display"), s("type")]),
        ],
        "meta": meta("Schema", format!("{BASE}/Schemas/{GROUP_URN}")),
    });
    let enterprise = json!({
        "schemas": [SCHEMA_URN],
        "id": ENTERPRISE_URN,
        "name": "EnterpriseUser",
        "description": "Enterprise User: kept as sent",
        "attributes": [
            s("employeeNumber"), s("costCenter"), s("organization"), s("division"), s("department"),
            complex("manager", false, "readWrite", vec![s("value"), attr("$ref", "reference", false, false, "readWrite", "none", false), s("displayName")]),
        ],
        "meta": meta("Schema", format!("{BASE}/Schemas/{ENTERPRISE_URN}")),
    });
    vec![user, group, enterprise]
}

/// `GET /Schemas`.
pub async fn schemas(_auth: ScimAuth) -> ScimJson {
    let all = schema_list();
    list_response(all.len() as i64, 1, all)
}

/// `GET /Schemas/{urn}`.
pub async fn schema(_auth: ScimAuth, Path(urn): Path<String>) -> ScimResult<ScimJson> {
    schema_list()
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&urn))
        })
        .map(|r| ScimJson(StatusCode::OK, r))
        .ok_or_else(|| Error::not_found("schema", &urn).into())
}
