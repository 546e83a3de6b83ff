//! Loading what a user holds, for the authorization decision.

use orgiam_authz::{Grant, Via};
use orgiam_core::ids::OrgId;
use orgiam_core::{Result, now_unix};
use sqlx::Row as _;

use crate::db::{Store, db};

impl Store {
    /// Every live grant of `user_id` in `org`: direct and through groups, at organization scope
    /// and on unarchived projects, with each role's permissions.
    pub async fn user_grants(&self, org: &OrgId, user_id: &str) -> Result<Vec<Grant>> {
        let rows = sqlx::query(
            "SELECT ra.id, ra.role_id, r.name AS role_name, ra.group_id, ra.project_id, \
             ra.expires_at, p.name AS permission \
             FROM role_assignments ra \
             JOIN roles r ON r.id = ra.role_id \
             JOIN role_permissions rp ON rp.role_id = ra.role_id \
             JOIN permissions p ON p.id = rp.permission_id \
             LEFT JOIN projects pr ON pr.id = ra.project_id \
             WHERE ra.org_id = $1 \
             AND (ra.user_id = $2 OR ra.group_id IN \
                  (SELECT gm.group_id FROM group_members gm WHERE gm.org_id = $1 AND gm.user_id = $2)) \
             AND (ra.expires_at IS NULL OR ra.expires_at > $3) \
             AND pr.archived_at IS NULL \
             ORDER BY ra.id",
        )
        .bind(org.as_str())
        .bind(user_id)
        .bind(now_unix())
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let mut grants: Vec<Grant> = Vec::new();
        let mut last_id = String::new();
        for row in rows {
            let id: String = row.try_get("id").map_err(db)?;
            let permission: String = row.try_get("permission").map_err(db)?;
            if id != last_id {
                let group: Option<String> = row.try_get("group_id").map_err(db)?;
                grants.push(Grant {
                    role_id: row.try_get("role_id").map_err(db)?,
                    role_name: row.try_get("role_name").map_err(db)?,
                    via: group.map_or(Via::Direct, Via::Group),
                    project_id: row.try_get("project_id").map_err(db)?,
                    expires_at: row.try_get("expires_at").map_err(db)?,
                    permissions: Vec::new(),
                });
                last_id = id;
            }
            if let Some(g) = grants.last_mut() {
                g.permissions.push(permission);
            }
        }
        Ok(grants)
    }
}
