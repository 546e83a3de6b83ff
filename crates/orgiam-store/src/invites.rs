//! Invitations: an email invited into an organization with a base role and optional project
//! roles, accepted once with a secret token.
//!
//! Guarantees: the token is 32 random bytes returned only by [`Store::create_invite`]; the
//! database keeps its SHA-256 only and looks it up by digest. A token works once, before its
//! expiry, and only while its invitation exists; acceptance creates (or attaches) the identity,
//! the membership with the invited base role and the invited project memberships in one
//! transaction. The inviter must hold every permission the invitation hands out.

use std::collections::HashMap;

use orgiam_authz::Holder as _;
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{InviteId, OrgId, ProjectId};
use orgiam_core::keys;
use orgiam_core::model::Member;
use orgiam_core::page::{Page, PageRequest};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::db::{Store, db};
use crate::members::{insert_membership, member, member_json, upsert_user};
use crate::sql::{keyset, placeholders};
use crate::write::{ActorRef, AuditEvent, WriteTx};

/// How long an invitation stays valid: seven days, in seconds.
pub const INVITE_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

/// Most projects one invitation may name.
pub const MAX_INVITE_PROJECTS: usize = 100;

/// A project role an invitation grants on acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteProject {
    /// `proj_…`
    pub project_id: String,
    /// `owner`, `member` or `viewer`.
    pub role: SystemRole,
}

/// An invitation (never its token).
#[derive(Debug, Clone)]
pub struct Invite {
    /// `invite_…`
    pub id: InviteId,
    /// The invited address, as given.
    pub email: String,
    /// The base role the member will have.
    pub role: SystemRole,
    /// The project roles granted on acceptance.
    pub projects: Vec<InviteProject>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the token stops working then.
    pub expires_at: i64,
    /// Unix seconds, once accepted.
    pub accepted_at: Option<i64>,
    /// Who sent it (a user id).
    pub invited_by: Option<String>,
}

impl Invite {
    /// `accepted`, `expired` or `pending`, at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        if self.accepted_at.is_some() {
            "accepted"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "pending"
        }
    }
}

/// What an invitation asks for, as the client sent it (checked by [`Store::create_invite`]).
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The address to invite.
    pub email: String,
    /// A system organization role by name: `owner`, `admin`, `member` or `reader`.
    pub role: String,
    /// `(project id, project role name)` pairs; empty for none.
    pub projects: Vec<(String, String)>,
}

/// An accepted invitation: the invitation, its organization and the new member.
#[derive(Debug, Clone)]
pub struct AcceptedInvite {
    /// The invitation, now accepted.
    pub invite: Invite,
    /// The organization joined.
    pub org_id: OrgId,
    /// The new member.
    pub member: Member,
}

const INVITE_COLUMNS: &str =
    "id, org_id, email, role_id, invited_by, created_at, expires_at, accepted_at";

fn invite_from_row(row: &sqlx::any::AnyRow) -> Result<Invite> {
    let role_id: String = row.try_get("role_id").map_err(db)?;
    Ok(Invite {
        id: InviteId::from_trusted(row.try_get("id").map_err(db)?),
        email: row.try_get("email").map_err(db)?,
        role: SystemRole::from_id(&role_id)
            .ok_or_else(|| Error::internal("an invitation names a non-system role"))?,
        projects: Vec::new(),
        created_at: row.try_get("created_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
        accepted_at: row.try_get("accepted_at").map_err(db)?,
        invited_by: row.try_get("invited_by").map_err(db)?,
    })
}

/// Loads invitations' rows and fills in their projects, keeping the order of `rows`.
async fn with_projects(
    conn: &mut AnyConnection,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<Invite>> {
    let mut invites = rows
        .iter()
        .map(invite_from_row)
        .collect::<Result<Vec<_>>>()?;
    if invites.is_empty() {
        return Ok(invites);
    }
    let sql = format!(
        "SELECT invite_id, project_id, role_id FROM invitation_projects \
         WHERE invite_id IN ({}) ORDER BY invite_id, project_id",
        placeholders(1, invites.len())
    );
    let mut q = sqlx::query(&sql);
    for i in &invites {
        q = q.bind(i.id.as_str().to_owned());
    }
    let mut by_invite: HashMap<String, Vec<InviteProject>> = HashMap::new();
    for row in q.fetch_all(&mut *conn).await.map_err(db)? {
        let invite_id: String = row.try_get("invite_id").map_err(db)?;
        let role_id: String = row.try_get("role_id").map_err(db)?;
        let Some(role) = SystemRole::from_id(&role_id) else {
            return Err(Error::internal(
                "an invitation names a non-system project role",
            ));
        };
        by_invite.entry(invite_id).or_default().push(InviteProject {
            project_id: row.try_get("project_id").map_err(db)?,
            role,
        });
    }
    for i in &mut invites {
        i.projects = by_invite.remove(i.id.as_str()).unwrap_or_default();
    }
    Ok(invites)
}

/// The invitation `id` of `org`.
async fn find_invite(conn: &mut AnyConnection, org: &OrgId, id: &str) -> Result<Option<Invite>> {
    let sql = format!("SELECT {INVITE_COLUMNS} FROM invitations WHERE org_id = $1 AND id = $2");
    let rows = sqlx::query(&sql)
        .bind(org.as_str())
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(with_projects(conn, &rows).await?.pop())
}

/// The audit form of an invitation.
fn invite_json(i: &Invite) -> serde_json::Value {
    json!({
        "id": i.id.as_str(),
        "email": i.email,
        "role": i.role.name(),
        "projects": i.projects.iter().map(|p| json!({ "id": p.project_id, "role": p.role.name() })).collect::<Vec<_>>(),
        "expires_at": i.expires_at,
        "accepted_at": i.accepted_at,
    })
}

/// Parses the organization role and the project roles of a new invitation.
fn parse_roles(new: &NewInvite) -> Result<(SystemRole, Vec<InviteProject>)> {
    let role = SystemRole::by_name(ResourceType::Organization, &new.role).ok_or_else(|| {
        Error::invalid(
            "role",
            format!(
                "role must be one of owner, admin, member, reader, not '{}'",
                quote(&new.role)
            ),
        )
    })?;
    if new.projects.len() > MAX_INVITE_PROJECTS {
        return Err(Error::invalid(
            "projects",
            format!("at most {MAX_INVITE_PROJECTS} projects per invitation"),
        ));
    }
    let mut projects: Vec<InviteProject> = Vec::with_capacity(new.projects.len());
    for (i, (id, role)) in new.projects.iter().enumerate() {
        if ProjectId::parse(id).is_none() {
            return Err(Error::invalid(
                format!("projects[{i}].id"),
                format!("projects[{i}].id '{}' is not a project id", quote(id)),
            ));
        }
        if projects.iter().any(|p| p.project_id == *id) {
            return Err(Error::invalid(
                format!("projects[{i}].id"),
                format!("projects[{i}].id '{}' is listed twice", quote(id)),
            ));
        }
        let role = SystemRole::by_name(ResourceType::Project, role).ok_or_else(|| {
            Error::invalid(
                format!("projects[{i}].role"),
                format!(
                    "projects[{i}].role must be one of owner, member, viewer, not '{}'",
                    quote(role)
                ),
            )
        })?;
        projects.push(InviteProject {
            project_id: id.clone(),
            role,
        });
    }
    Ok((role, projects))
}

/// No escalation through an invitation: the inviter holds the base role's permissions, and
/// each project role's permissions in that project.
fn ensure_may_invite(
    actor: &ActorRef<'_>,
    base: &[String],
    projects: &[InviteProject],
) -> Result<()> {
    let names = |r: SystemRole| {
        r.permissions()
            .map(|p| p.name.to_owned())
            .collect::<Vec<_>>()
    };
    actor.ensure_holds(base)?;
    let ActorRef::Key { grants, .. } = actor else {
        return Ok(());
    };
    for p in projects {
        let perms = names(p.role);
        let now = now_unix();
        if let Some(missing) = perms
            .iter()
            .find(|x| !grants.holds(x, Some(&p.project_id), now))
        {
            return Err(Error::forbidden(
                "privilege_escalation",
                format!(
                    "you can only grant permissions you hold yourself; you lack '{missing}' in project '{}'",
                    p.project_id
                ),
            ));
        }
    }
    Ok(())
}

fn bad_token() -> Error {
    let mut e = Error::not_found("invitation", "");
    e.code = "invite_not_found";
    e.message = "no invitation has this token (it may have been deleted)".into();
    e.param = Some("token".into());
    e
}

/// An invitation is granted on its inviter's authority, checked again at acceptance: the
/// inviter must still be a member holding `api.invites.write` and every permission of the
/// invited roles (403 `inviter_lacks_authority` otherwise; the invitation stays pending).
async fn ensure_inviter_still_may(w: &mut WriteTx, invite: &Invite) -> Result<()> {
    let Some(inviter) = invite.invited_by.as_deref() else {
        return Ok(());
    };
    let org = w.org_id.clone();
    let grants = crate::grants::grants_in(&mut w.tx, &org, inviter).await?;
    let mut needed: Vec<(String, Option<String>)> = vec![("api.invites.write".to_owned(), None)];
    let role = crate::roles::org_role(&mut w.tx, &org, invite.role.id_str()).await?;
    needed.extend(
        role.map(|r| r.permissions)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p, None)),
    );
    for p in &invite.projects {
        needed.extend(
            p.role
                .permissions()
                .map(|x| (x.name.to_owned(), Some(p.project_id.clone()))),
        );
    }
    let now = now_unix();
    match needed
        .iter()
        .find(|(p, project)| !grants.holds(p, project.as_deref(), now))
    {
        None => Ok(()),
        Some((p, _)) => Err(Error::forbidden(
            "inviter_lacks_authority",
            format!(
                "whoever sent this invitation no longer holds '{p}', so it cannot be accepted; \
                 ask for a new one"
            ),
        )),
    }
}

impl Store {
    /// Invites `new.email` with a fresh token; 409 `already_member` if the address belongs to
    /// a member, 409 `invite_pending` if a pending invitation for it exists. Returns the
    /// invitation, its token (shown once) and the revision.
    pub async fn create_invite(
        &self,
        actor: &ActorRef<'_>,
        org: &OrgId,
        new: NewInvite,
    ) -> Result<(Invite, String, i64)> {
        let email = validate::email("email", &new.email)?;
        let email_key = validate::fold_case(&email);
        let (role, projects) = parse_roles(&new)?;
        let mut w = self.begin_write(org).await?;
        for (i, p) in projects.iter().enumerate() {
            let archived: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT archived_at FROM projects WHERE org_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(p.project_id.as_str())
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db)?;
            match archived {
                None => {
                    return Err(Error::not_found("project", &p.project_id)
                        .with_param(format!("projects[{i}].id")));
                }
                Some(Some(_)) => {
                    return Err(Error::invalid_code(
                        "project_archived",
                        format!("projects[{i}].id"),
                        format!("project '{}' is archived", p.project_id),
                    ));
                }
                Some(None) => {}
            }
        }
        // the base role as this organization lists it (owner and admin hold its own
        // permissions too)
        let base = crate::roles::org_role(&mut w.tx, org, role.id_str())
            .await?
            .map(|r| r.permissions)
            .unwrap_or_default();
        ensure_may_invite(actor, &base, &projects)?;
        let is_member: Option<String> = sqlx::query_scalar(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND u.email_key = $2",
        )
        .bind(org.as_str())
        .bind(email_key.as_str())
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?;
        if is_member.is_some() {
            return Err(Error::conflict(
                "already_member",
                format!(
                    "'{}' is already a member of this organization",
                    quote(&email)
                ),
            ));
        }
        let now = now_unix();
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT id FROM invitations WHERE org_id = $1 AND email_key = $2 \
             AND accepted_at IS NULL AND expires_at > $3",
        )
        .bind(org.as_str())
        .bind(email_key.as_str())
        .bind(now)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db)?;
        if let Some(id) = pending {
            return Err(Error::conflict(
                "invite_pending",
                format!(
                    "'{}' already has a pending invitation ({id}); delete it to invite again",
                    quote(&email)
                ),
            ));
        }
        let token = keys::token();
        let invite = Invite {
            id: InviteId::generate(),
            email: email.clone(),
            role,
            projects,
            created_at: now,
            expires_at: now + INVITE_LIFETIME_SECONDS,
            accepted_at: None,
            invited_by: actor.user_id().map(str::to_owned),
        };
        sqlx::query(
            "INSERT INTO invitations (id, org_id, email, email_key, role_id, token_hash, invited_by, \
             created_at, expires_at, accepted_at, accepted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)",
        )
        .bind(invite.id.as_str())
        .bind(org.as_str())
        .bind(email.as_str())
        .bind(email_key.as_str())
        .bind(role.id_str())
        .bind(token.hash.as_str())
        .bind(invite.invited_by.clone())
        .bind(invite.created_at)
        .bind(invite.expires_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
        for p in &invite.projects {
            sqlx::query(
                "INSERT INTO invitation_projects (invite_id, project_id, role_id) VALUES ($1, $2, $3)",
            )
            .bind(invite.id.as_str())
            .bind(p.project_id.as_str())
            .bind(p.role.id_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        }
        w.audit(
            actor,
            AuditEvent {
                event_type: "invite.sent",
                resource_id: invite.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": invite.id.as_str(),
                    "data": { "email": email, "role": role.name() },
                    "after": invite_json(&invite),
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((invite, token.value, revision))
    }

    /// The organization's invitations, by id.
    pub async fn list_invites(&self, org: &OrgId, page: &PageRequest) -> Result<Page<Invite>> {
        let (cond, order) = keyset("id", page, 2);
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invitations WHERE org_id = $1{cond}{order} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query(&sql).bind(org.as_str());
        if let Some(after) = &page.after {
            q = q.bind(after.clone());
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
        let invites = with_projects(&mut conn, &rows).await?;
        Ok(Page::from_overfetch(invites, page.limit))
    }

    /// One invitation; 404 if `id` is not one of `org`'s.
    pub async fn get_invite(&self, org: &OrgId, id: &str) -> Result<Invite> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        find_invite(&mut conn, org, id)
            .await?
            .ok_or_else(|| Error::not_found("invite", id))
    }

    /// Deletes a pending or expired invitation (its token stops working); an accepted one
    /// cannot be deleted (409 `invite_accepted`).
    pub async fn delete_invite(&self, actor: &ActorRef<'_>, org: &OrgId, id: &str) -> Result<i64> {
        let mut w = self.begin_write(org).await?;
        let before = find_invite(&mut w.tx, org, id)
            .await?
            .ok_or_else(|| Error::not_found("invite", id))?;
        if before.accepted_at.is_some() {
            return Err(Error::conflict(
                "invite_accepted",
                format!(
                    "invite '{}' has been accepted and cannot be deleted",
                    quote(id)
                ),
            ));
        }
        sqlx::query("DELETE FROM invitations WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        w.audit(
            actor,
            AuditEvent {
                event_type: "invite.deleted",
                resource_id: id.to_owned(),
                project_id: None,
                payload: json!({ "id": id, "before": invite_json(&before) }),
            },
        )
        .await?;
        w.commit().await
    }

    /// Accepts the invitation whose token is `token`: creates or attaches the identity, adds
    /// the membership with the invited base role and the invited (unarchived) projects with
    /// their roles, and marks the invitation accepted. Unknown or deleted tokens answer 404
    /// `invite_not_found`; a used token 400 `invite_already_accepted`; an expired one 400
    /// `invite_expired`; an address that became a member meanwhile 409 `already_member`.
    pub async fn accept_invite(
        &self,
        token: &str,
        name: Option<&str>,
    ) -> Result<(AcceptedInvite, i64)> {
        let name = name.map(|n| validate::name("name", n)).transpose()?;
        if token.is_empty() || token.len() > 256 {
            return Err(bad_token());
        }
        let digest = keys::hash(token);
        let org: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM invitations WHERE token_hash = $1")
                .bind(digest.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        let org = OrgId::from_trusted(org.ok_or_else(bad_token)?);
        let mut w = self.begin_write(&org).await?;
        // read again under the organization's write lock: exactly one acceptance wins
        let sql = format!(
            "SELECT {INVITE_COLUMNS}, token_hash FROM invitations WHERE org_id = $1 AND token_hash = $2"
        );
        let rows = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(digest.as_str())
            .fetch_all(&mut *w.tx)
            .await
            .map_err(db)?;
        let stored: Option<String> = rows
            .first()
            .map(|r| r.try_get("token_hash"))
            .transpose()
            .map_err(db)?;
        if !stored.is_some_and(|s| keys::constant_time_eq(s.as_bytes(), digest.as_bytes())) {
            return Err(bad_token());
        }
        let mut invite = with_projects(&mut w.tx, &rows)
            .await?
            .pop()
            .ok_or_else(bad_token)?;
        let now = now_unix();
        if invite.accepted_at.is_some() {
            return Err(Error::invalid_code(
                "invite_already_accepted",
                "token",
                "this invitation has already been accepted",
            ));
        }
        if invite.expires_at <= now {
            return Err(Error::invalid_code(
                "invite_expired",
                "token",
                "this invitation has expired; ask for a new one",
            ));
        }
        ensure_inviter_still_may(&mut w, &invite).await?;
        let user_id = upsert_user(&mut w, &invite.email).await?;
        let actor = ActorRef::System;
        insert_membership(
            &mut w,
            &actor,
            &user_id,
            &invite.email,
            name.as_deref(),
            invite.role,
        )
        .await?;
        let mut joined = Vec::new();
        let mut skipped = Vec::new();
        for p in &invite.projects {
            let archived: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT archived_at FROM projects WHERE org_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(p.project_id.as_str())
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db)?;
            if !matches!(archived, Some(None)) {
                skipped.push(p.project_id.clone());
                continue;
            }
            sqlx::query(
                "INSERT INTO project_members (org_id, project_id, user_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(org.as_str())
            .bind(p.project_id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, \
                 user_id, group_id, project_id, is_base, created_at, created_by, expires_at, metadata) \
                 VALUES ($1, $2, $3, 'user', $4, $4, NULL, $5, 1, $6, $7, NULL, NULL)",
            )
            .bind(orgiam_core::ids::AssignmentId::generate().into_string())
            .bind(org.as_str())
            .bind(p.role.id_str())
            .bind(user_id.as_str())
            .bind(p.project_id.as_str())
            .bind(now)
            .bind(invite.invited_by.clone())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
            joined.push(json!({ "id": p.project_id, "role": p.role.name() }));
        }
        sqlx::query("UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3")
            .bind(now)
            .bind(user_id.as_str())
            .bind(invite.id.as_str())
            .execute(&mut *w.tx)
            .await
            .map_err(db)?;
        invite.accepted_at = Some(now);
        let m = member(&mut w.tx, &org, user_id.as_str())
            .await?
            .ok_or_else(|| Error::internal("new member vanished"))?;
        w.audit(
            &actor,
            AuditEvent {
                event_type: "invite.accepted",
                resource_id: invite.id.as_str().to_owned(),
                project_id: None,
                payload: json!({
                    "id": invite.id.as_str(),
                    "user": member_json(&m),
                    "projects": joined,
                    "skipped_projects": skipped,
                }),
            },
        )
        .await?;
        let revision = w.commit().await?;
        Ok((
            AcceptedInvite {
                invite,
                org_id: org,
                member: m,
            },
            revision,
        ))
    }
}
