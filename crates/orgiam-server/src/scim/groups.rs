//! `/scim/v2/Groups`: the organization's groups. `displayName` is the group's name,
//! `members` (`value` = user id) its members; changes go through the native API's group
//! operations, so a group's role grants apply to its members at once and every change writes
//! the same audit events (`group.created`, `group.user.added`, …).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use orgiam_core::validate::quote;
use orgiam_core::{Error, Result};
use orgiam_store::ScimGroup;
use serde_json::{Value, json};

use super::auth::ScimAuth;
use super::errors::{ScimResult, scim_error};
use super::filter::{self, Resource, get_ci};
use super::patch::{self, GROUP_URN};
use super::{BASE, ScimBody, ScimJson, list_response, paging, version_of, wants_members};
use crate::dialects::rfc3339;
use crate::extract::Params;
use crate::state::AppState;

/// A group's resource (`members` only if they were read).
pub fn render(g: &ScimGroup, with_members: bool) -> Value {
    let mut r = json!({
        "schemas": [GROUP_URN],
        "id": g.id,
        "displayName": g.name,
    });
    if let Some(e) = &g.external_id {
        r["externalId"] = json!(e);
    }
    if with_members {
        r["members"] = g
            .members
            .iter()
            .map(|(uid, display)| {
                json!({ "value": uid, "display": display, "type": "User", "$ref": format!("{BASE}/Users/{uid}") })
            })
            .collect();
    }
    let version = version_of(&r);
    r["meta"] = json!({
        "resourceType": "Group",
        "created": rfc3339(g.created_at),
        "lastModified": rfc3339(g.updated_at.max(g.created_at)),
        "location": format!("{BASE}/Groups/{}", g.id),
        "version": version,
    });
    r
}

/// A group resource as sent, checked.
struct Parsed {
    name: String,
    external_id: Option<String>,
    members: BTreeSet<String>,
}

fn parse(r: &Value) -> Result<Parsed> {
    let name = get_ci(r, "displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            scim_error(
                "invalidValue",
                "displayName",
                "displayName is required".to_owned(),
            )
        })?
        .to_owned();
    let external_id = match get_ci(r, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(scim_error(
                "invalidValue",
                "externalId",
                format!("externalId must be a string, not {other}"),
            ));
        }
    };
    let mut members = BTreeSet::new();
    match get_ci(r, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(xs)) => {
            for (i, m) in xs.iter().enumerate() {
                let v = get_ci(m, "value").and_then(Value::as_str).ok_or_else(|| {
                    scim_error(
                        "invalidValue",
                        "members",
                        format!("members[{i}] needs a 'value': a user id"),
                    )
                })?;
                members.insert(v.to_owned());
            }
        }
        Some(_) => {
            return Err(scim_error(
                "invalidValue",
                "members",
                "members must be an array".to_owned(),
            ));
        }
    }
    Ok(Parsed {
        name,
        external_id,
        members,
    })
}

/// Every id in `members` must be a member of the organization (else `invalidValue`, before
/// anything is changed).
async fn check_members(
    state: &AppState,
    auth: &ScimAuth,
    members: &BTreeSet<String>,
) -> Result<()> {
    for m in members {
        if !state.store.is_member(auth.org(), m).await? {
            return Err(scim_error(
                "invalidValue",
                "members",
                format!("'{}' is not a user of this organization", quote(m)),
            ));
        }
    }
    Ok(())
}

/// Brings group `id` to `want`: renamed, external id set, members added and removed.
async fn converge(
    state: &AppState,
    auth: &ScimAuth,
    current: &ScimGroup,
    want: Parsed,
) -> Result<()> {
    check_members(state, auth, &want.members).await?;
    let author = auth.author();
    if want.name != current.name {
        state
            .store
            .rename_group(&author, auth.org(), &current.id, &want.name)
            .await?;
    }
    if want.external_id != current.external_id {
        state
            .store
            .scim_set_group_external_id(auth.org(), &current.id, want.external_id.as_deref())
            .await?;
    }
    let have: BTreeSet<String> = current.members.iter().map(|(u, _)| u.clone()).collect();
    for u in want.members.difference(&have) {
        state
            .store
            .add_group_member(&author, auth.org(), &current.id, u)
            .await?;
    }
    for u in have.difference(&want.members) {
        match state
            .store
            .remove_group_member(&author, auth.org(), &current.id, u)
            .await
        {
            Ok(_) => {}
            // removed meanwhile: the state asked for is reached
            Err(e) if e.kind == orgiam_core::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `GET /Groups`: filtered, offset-paged, ordered by id; `excludedAttributes=members` skips
/// reading members.
pub async fn list(
    auth: ScimAuth,
    State(state): State<AppState>,
    params: Params,
) -> ScimResult<ScimJson> {
    let (start, count) = paging(&params)?;
    let f = params
        .one("filter")
        .map(|f| filter::parse(f).and_then(|f| filter::resolve(&f, Resource::Group)))
        .transpose()?;
    let with_members = wants_members(&params);
    let (total, groups) = state
        .store
        .scim_list_groups(auth.org(), f.as_ref(), start, count, with_members)
        .await?;
    Ok(list_response(
        total,
        start,
        groups.iter().map(|g| render(g, with_members)).collect(),
    ))
}

/// `POST /Groups`: a new group with its members; 409 `uniqueness` if the name is taken.
pub async fn create(
    auth: ScimAuth,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let p = parse(&body)?;
    check_members(&state, &auth, &p.members).await?;
    let (g, _) = state
        .store
        .create_group(&auth.author(), auth.org(), &p.name)
        .await?;
    // marks the group SCIM-managed, with its external id if it has one
    state
        .store
        .scim_set_group_external_id(auth.org(), g.id.as_str(), p.external_id.as_deref())
        .await?;
    let current = state
        .store
        .scim_get_group(auth.org(), g.id.as_str(), true)
        .await?;
    converge(&state, &auth, &current, p).await?;
    let g = state
        .store
        .scim_get_group(auth.org(), g.id.as_str(), true)
        .await?;
    Ok(ScimJson(StatusCode::CREATED, render(&g, true)))
}

/// `GET /Groups/{id}`.
pub async fn retrieve(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ScimResult<ScimJson> {
    let with_members = wants_members(&params);
    let g = state
        .store
        .scim_get_group(auth.org(), &id, with_members)
        .await?;
    Ok(ScimJson(StatusCode::OK, render(&g, with_members)))
}

/// `PUT /Groups/{id}`: name, external id and the whole member list replaced.
pub async fn replace(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let current = state.store.scim_get_group(auth.org(), &id, true).await?;
    converge(&state, &auth, &current, parse(&body)?).await?;
    let g = state.store.scim_get_group(auth.org(), &id, true).await?;
    Ok(ScimJson(StatusCode::OK, render(&g, true)))
}

/// `PATCH /Groups/{id}`: the operations applied to the current group, then reached as a PUT.
pub async fn patch(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let current = state.store.scim_get_group(auth.org(), &id, true).await?;
    let mut resource = render(&current, true);
    if let Some(o) = resource.as_object_mut() {
        o.remove("meta");
    }
    patch::apply(&mut resource, &body, GROUP_URN, &["id", "meta", "schemas"])?;
    converge(&state, &auth, &current, parse(&resource)?).await?;
    let g = state.store.scim_get_group(auth.org(), &id, true).await?;
    Ok(ScimJson(StatusCode::OK, render(&g, true)))
}

/// `DELETE /Groups/{id}`: the group, its memberships and its role grants.
pub async fn delete(
    auth: ScimAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    state
        .store
        .delete_group(&auth.author(), auth.org(), &id)
        .await
        .map_err(|e: Error| e)?;
    Ok(StatusCode::NO_CONTENT)
}
