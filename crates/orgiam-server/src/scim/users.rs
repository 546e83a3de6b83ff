//! `/scim/v2/Users`: members of the token's organization. `userName` is the email (the global
//! identity's, so it cannot be changed through SCIM: `mutability`); `displayName` is the
//! membership's display name; `active: false` suspends the membership; `groups` is read-only;
//! every other attribute (name, emails, the enterprise extension, …) is kept as sent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use orgiam_core::Result;
use orgiam_core::validate::{self, quote};
use orgiam_store::{ScimNewUser, ScimUser, ScimUserChange};
use serde_json::{Map, Value, json};

use super::auth::ScimAuth;
use super::errors::{ScimResult, scim_error};
use super::filter::{self, Resource, get_ci};
use super::patch::{self, ENTERPRISE_URN, USER_URN};
use super::{BASE, ScimBody, ScimJson, list_response, paging, version_of};
use crate::dialects::rfc3339;
use crate::extract::Params;
use crate::state::AppState;

/// Attributes orgiam keeps in its own columns, or never keeps (`password`).
const OWN: &[&str] = &[
    "schemas",
    "id",
    "meta",
    "userName",
    "displayName",
    "active",
    "externalId",
    "groups",
    "password",
];

/// A user's resource.
pub fn render(u: &ScimUser) -> Value {
    let mut r = match &u.attributes {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let mut schemas = vec![json!(USER_URN)];
    if r.contains_key(ENTERPRISE_URN) {
        schemas.push(json!(ENTERPRISE_URN));
    }
    let id = u.member.user_id.as_str();
    r.insert("schemas".into(), Value::Array(schemas));
    r.insert("id".into(), json!(id));
    if let Some(e) = &u.external_id {
        r.insert("externalId".into(), json!(e));
    }
    r.insert("userName".into(), json!(u.member.email));
    if let Some(n) = &u.member.name {
        r.insert("displayName".into(), json!(n));
    }
    r.insert("active".into(), json!(!u.member.suspended));
    if !r.contains_key("emails") {
        r.insert(
            "emails".into(),
            json!([{ "value": u.member.email, "type": "work", "primary": true }]),
        );
    }
    if !u.groups.is_empty() {
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|(gid, name)| {
                json!({ "value": gid, "display": name, "$ref": format!("{BASE}/Groups/{gid}"), "type": "direct" })
            })
            .collect();
        r.insert("groups".into(), Value::Array(groups));
    }
    let mut r = Value::Object(r);
    let version = version_of(&r);
    r["meta"] = json!({
        "resourceType": "User",
        "created": rfc3339(u.member.added_at),
        "lastModified": rfc3339(u.updated_at.max(u.member.added_at)),
        "location": format!("{BASE}/Users/{id}"),
        "version": version,
    });
    r
}

/// A user resource as sent, checked.
struct Parsed {
    email: String,
    name: Option<String>,
    active: bool,
    external_id: Option<String>,
    attributes: Value,
}

/// `active` as identity providers send it: a boolean, or `"True"`/`"False"` in any case.
fn boolean(v: &Value, what: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(scim_error(
            "invalidValue",
            what,
            format!("{what} must be true or false, not {other}"),
        )),
    }
}

fn optional_string(r: &Value, name: &str) -> Result<Option<String>> {
    match get_ci(r, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(scim_error(
            "invalidValue",
            name,
            format!("{name} must be a string, not {other}"),
        )),
    }
}

fn parse(r: &Value) -> Result<Parsed> {
    let email = optional_string(r, "userName")?.ok_or_else(|| {
        scim_error(
            "invalidValue",
            "userName",
            "userName is required".to_owned(),
        )
    })?;
    let email = validate::email("userName", &email)
        .map_err(|e| scim_error("invalidValue", "userName", e.message))?;
    let active = match get_ci(r, "active") {
        None | Some(Value::Null) => true,
        Some(v) => boolean(v, "active")?,
    };
    let name = match optional_string(r, "displayName")? {
        Some(n) if !n.trim().is_empty() => Some(n),
        _ => {
            // Okta sends no displayName by default: name.formatted, or given and family names
            let n = get_ci(r, "name");
            let part = |k: &str| {
                n.and_then(|n| get_ci(n, k))
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            part("formatted").map(str::to_owned).or_else(|| {
                let both: Vec<&str> = [part("givenName"), part("familyName")]
                    .into_iter()
                    .flatten()
                    .collect();
                (!both.is_empty()).then(|| both.join(" "))
            })
        }
    };
    if let Some(n) = &name {
        validate::name("displayName", n)
            .map_err(|e| scim_error("invalidValue", "displayName", e.message))?;
    }
    let external_id = optional_string(r, "externalId")?;
    let mut attributes = Map::new();
    if let Value::Object(o) = r {
        for (k, v) in o {
            if !OWN.iter().any(|own| own.eq_ignore_ascii_case(k)) {
                let key = if k.eq_ignore_ascii_case(ENTERPRISE_URN) {
                    ENTERPRISE_URN.to_owned()
                } else {
                    patch::canon(k)
                };
                attributes.insert(key, v.clone());
            }
        }
    }
    Ok(Parsed {
        email,
        name,
        active,
        external_id,
        attributes: Value::Object(attributes),
    })
}

/// `GET /Users`: filtered, offset-paged, ordered by id.
pub async fn list(
    auth: ScimAuth,
    State(state): State<AppState>,
    params: Params,
) -> ScimResult<ScimJson> {
    let (start, count) = paging(&params)?;
    let f = params
        .one("filter")
        .map(|f| filter::parse(f).and_then(|f| filter::resolve(&f, Resource::User)))
        .transpose()?;
    let (total, users) = state
        .store
        .scim_list_members(auth.org(), f.as_ref(), start, count)
        .await?;
    Ok(list_response(
        total,
        start,
        users.iter().map(render).collect(),
    ))
}

/// `POST /Users`: a new member, with the token's default base role (an existing identity with
/// the email is attached); 409 `uniqueness` if they are a member already.
pub async fn create(
    auth: ScimAuth,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let p = parse(&body)?;
    let (u, _) = state
        .store
        .scim_add_member(
            &auth.author(),
            auth.org(),
            ScimNewUser {
                email: p.email,
                name: p.name,
                role: auth.default_role,
                active: p.active,
                external_id: p.external_id,
                attributes: p.attributes,
            },
        )
        .await?;
    let u = state
        .store
        .scim_get_member(auth.org(), u.member.user_id.as_str())
        .await?;
    Ok(ScimJson(StatusCode::CREATED, render(&u)))
}

/// `GET /Users/{id}`.
pub async fn retrieve(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ScimResult<ScimJson> {
    let u = state.store.scim_get_member(auth.org(), &id).await?;
    Ok(ScimJson(StatusCode::OK, render(&u)))
}

/// Stores `resource` as the whole new state of member `id`.
async fn store(
    state: &AppState,
    auth: &ScimAuth,
    id: &str,
    current: &ScimUser,
    resource: &Value,
) -> ScimResult<ScimJson> {
    let p = parse(resource)?;
    if validate::fold_case(&p.email) != validate::fold_case(&current.member.email) {
        return Err(scim_error(
            "mutability",
            "userName",
            format!(
                "userName is the member's email '{}' and cannot be changed through SCIM (remove the user and create '{}')",
                quote(&current.member.email),
                quote(&p.email)
            ),
        )
        .into());
    }
    state
        .store
        .scim_update_member(
            &auth.author(),
            auth.org(),
            id,
            ScimUserChange {
                name: Some(p.name),
                active: Some(p.active),
                external_id: Some(p.external_id),
                attributes: Some(p.attributes),
            },
        )
        .await?;
    let u = state.store.scim_get_member(auth.org(), id).await?;
    Ok(ScimJson(StatusCode::OK, render(&u)))
}

/// `PUT /Users/{id}`: replaces every attribute but `userName`, which must stay the same.
pub async fn replace(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let current = state.store.scim_get_member(auth.org(), &id).await?;
    store(&state, &auth, &id, &current, &body).await
}

/// `PATCH /Users/{id}`: the operations applied to the current resource, stored as a PUT.
pub async fn patch(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let current = state.store.scim_get_member(auth.org(), &id).await?;
    let mut resource = render(&current);
    if let Some(o) = resource.as_object_mut() {
        o.remove("meta");
        o.remove("groups");
    }
    patch::apply(
        &mut resource,
        &body,
        USER_URN,
        &["id", "meta", "groups", "schemas"],
    )?;
    store(&state, &auth, &id, &current, &resource).await
}

/// `DELETE /Users/{id}`: removes the membership (its assignments, group memberships and keys
/// with it), as the native API's user delete does.
pub async fn delete(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    state
        .store
        .remove_member(&auth.author(), auth.org(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
