//! Organizations: creation with a first owner and a first admin key.

use orgiam_core::catalog::SystemRole;
use orgiam_core::ids::OrgId;
use orgiam_core::model::{ApiKey, Member, Organization};
use orgiam_core::validate;
use orgiam_core::{Error, Result, now_unix};
use serde_json::json;
use sqlx::Row as _;

use crate::db::{Store, db};
use crate::keys::insert_key;
use crate::members::{insert_membership, member, member_json, upsert_user};
use crate::platform::platform_event;
use crate::write::{ActorRef, AuditEvent, WriteTx};
use orgiam_core::platform::PlatformActor;

/// A new organization, its owner and the owner's first admin key (secret shown once).
#[derive(Debug)]
pub struct CreatedOrganization {
    /// The organization.
    pub organization: Organization,
    /// Its owner.
    pub owner: Member,
    /// The first admin key.
    pub admin_key: ApiKey,
    /// The key's secret; never stored.
    pub secret: String,
}

impl Store {
    /// Creates an organization with `owner_email` as owner and mints an admin key acting as
    /// that owner, in one transaction with its `organization.created` event.
    pub async fn create_organization(
        &self,
        name: &str,
        owner_email: &str,
        owner_name: Option<&str>,
    ) -> Result<CreatedOrganization> {
        self.create_organization_by(None, name, owner_email, owner_name)
            .await
    }

    /// As [`Store::create_organization`], made by `platform` (recorded in the platform audit
    /// log too) or by the server itself (`None`, the bootstrap).
    pub async fn create_organization_by(
        &self,
        platform: Option<&PlatformActor>,
        name: &str,
        owner_email: &str,
        owner_name: Option<&str>,
    ) -> Result<CreatedOrganization> {
        let name = validate::name("name", name)?;
        let owner_email = validate::email("owner_email", owner_email)?;
        let owner_name = owner_name
            .map(|n| validate::name("owner_name", n))
            .transpose()?;
        let org_id = OrgId::generate();
        let now = now_unix();
        let mut tx = self.begin_tx().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at, revision) VALUES ($1, $2, $3, 1)",
        )
        .bind(org_id.as_str())
        .bind(name.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let mut w = WriteTx::new(self, tx, org_id.clone(), 1);
        let actor = platform.map_or(ActorRef::System, ActorRef::Platform);
        let user_id = upsert_user(&mut w, &owner_email).await?;
        insert_membership(
            &mut w,
            &actor,
            &user_id,
            &owner_email,
            owner_name.as_deref(),
            SystemRole::OrgOwner,
        )
        .await?;
        let (admin_key, secret) = insert_key(
            &mut w,
            orgiam_core::keys::KeyKind::Admin,
            "Initial admin key",
            &user_id,
            None,
            None,
        )
        .await?;
        let owner = member(&mut w.tx, &org_id, user_id.as_str())
            .await?
            .ok_or_else(|| Error::internal("owner vanished"))?;
        let event = AuditEvent {
            event_type: "organization.created",
            resource_id: org_id.as_str().to_owned(),
            project_id: None,
            payload: json!({
                "id": org_id.as_str(),
                "data": { "name": name },
                "owner": member_json(&owner),
                "admin_api_key": { "id": admin_key.id.as_str(), "redacted_value": admin_key.redacted_value },
            }),
        };
        if let Some(p) = platform {
            platform_event(&mut w.tx, p, Some(&org_id), event.clone()).await?;
        }
        w.audit(&actor, event).await?;
        w.commit().await?;
        Ok(CreatedOrganization {
            organization: Organization {
                id: org_id,
                name,
                created_at: now,
            },
            owner,
            admin_key,
            secret,
        })
    }

    /// Whether any organization exists (none on a fresh database). Reads at most one row, so
    /// start-up does not grow with the number of organizations.
    pub async fn has_organizations(&self) -> Result<bool> {
        let any: Option<String> = sqlx::query_scalar("SELECT id FROM organizations LIMIT 1")
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        Ok(any.is_some())
    }

    /// One organization.
    pub async fn get_organization(&self, id: &OrgId) -> Result<Organization> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("organization", id.as_str()))?;
        Ok(Organization {
            id: OrgId::from_trusted(row.try_get("id").map_err(db)?),
            name: row.try_get("name").map_err(db)?,
            created_at: row.try_get("created_at").map_err(db)?,
        })
    }

    /// The organization's current revision (incremented by every committed write).
    pub async fn org_revision(&self, id: &OrgId) -> Result<i64> {
        sqlx::query_scalar("SELECT revision FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::not_found("organization", id.as_str()))
    }
}
