//! The authorization engine: pure, synchronous, default-deny, and self-explaining.
//!
//! Guarantees: a permission is allowed only if some unexpired grant held by the user (directly
//! or through a group) contains it, at organization scope or, for a check inside a project, on
//! that (unarchived) project; every allow can name the grants that produced it; nothing here
//! does I/O. [`Snapshot`] is the compiled, per-organization form used on the hot path.

mod flat;
mod permset;
mod registry;
mod sharded;
mod snapshot;

pub mod workload;

pub use permset::PermSet;
pub use registry::Registry;
pub use snapshot::{AssignDef, Delta, GroupDef, OrgData, RoleDef, Snapshot, UserDef};
/// Something that can say whether a principal holds a permission (for the "grant only what
/// you hold" rule): a compiled snapshot's view of one user, or a plain list of grants.
pub trait Holder: Send + Sync {
    /// Whether the permission is held in `project` (or at organization level) at `now`.
    fn holds(&self, permission: &str, project: Option<&str>, now: i64) -> bool;

    /// The organization revision the answers reflect, when known (a snapshot's).
    fn revision(&self) -> Option<i64> {
        None
    }

    /// Every (permission, project) this holder answered `true` for so far, so that a write
    /// can check them again at the revision it commits at.
    fn relied_on(&self) -> Vec<(String, Option<String>)> {
        Vec::new()
    }
}

impl Holder for [Grant] {
    fn holds(&self, permission: &str, project: Option<&str>, now: i64) -> bool {
        decide(self, permission, project, now).allowed
    }
}

impl Holder for Vec<Grant> {
    fn holds(&self, permission: &str, project: Option<&str>, now: i64) -> bool {
        decide(self, permission, project, now).allowed
    }
}

/// What a view allowed: (permission, project) pairs.
pub type Allowed = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// One user as a snapshot sees them; for a key one user minted for another, both users: it
/// holds only what both hold now (the intersection), so it never outgrows its minter. It
/// remembers what it allowed, for the write's re-check at commit.
#[derive(Clone)]
pub struct UserView {
    /// The organization's snapshot.
    pub snapshot: std::sync::Arc<Snapshot>,
    /// The user.
    pub user: String,
    /// The user who minted the key for `user`, when it was someone else.
    pub minted_by: Option<String>,
    /// What was allowed through this view.
    pub allowed: Allowed,
}

impl UserView {
    /// A view of `user` (and `minted_by`, for a key minted by someone else) in `snapshot`.
    pub fn new(
        snapshot: std::sync::Arc<Snapshot>,
        user: String,
        minted_by: Option<String>,
    ) -> UserView {
        UserView {
            snapshot,
            user,
            minted_by,
            allowed: Default::default(),
        }
    }
}

impl Holder for UserView {
    fn holds(&self, permission: &str, project: Option<&str>, now: i64) -> bool {
        let ok = self.snapshot.check(&self.user, permission, project, now)
            && self
                .minted_by
                .as_deref()
                .is_none_or(|m| self.snapshot.check(m, permission, project, now));
        if ok {
            if let Ok(mut a) = self.allowed.lock() {
                let entry = (permission.to_owned(), project.map(str::to_owned));
                if !a.contains(&entry) {
                    a.push(entry);
                }
            }
        }
        ok
    }

    fn revision(&self) -> Option<i64> {
        Some(self.snapshot.revision())
    }

    fn relied_on(&self) -> Vec<(String, Option<String>)> {
        self.allowed.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// How a user holds a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Assigned to the user.
    Direct,
    /// Assigned to a group the user is in (the group's id).
    Group(String),
}

/// One role held by a user at one scope, with the permissions it carries.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The role's id.
    pub role_id: String,
    /// The role's name.
    pub role_name: String,
    /// Direct or through a group.
    pub via: Via,
    /// `None`: organization scope (applies in every project); `Some`: that project only.
    pub project_id: Option<String>,
    /// When the grant stops granting (Unix seconds), if ever.
    pub expires_at: Option<i64>,
    /// The permission names the role holds.
    pub permissions: Vec<String>,
}

impl Grant {
    fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }

    fn applies_in(&self, project: Option<&str>) -> bool {
        match (&self.project_id, project) {
            (None, _) => true,
            (Some(p), Some(q)) => p == q,
            (Some(_), None) => false,
        }
    }
}

/// Why a permission was allowed: one grant that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The role.
    pub role_id: String,
    /// Its name.
    pub role_name: String,
    /// Direct or through a group.
    pub via: Via,
    /// The grant's project, `None` for organization scope.
    pub project_id: Option<String>,
}

/// An answer with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the permission is held.
    pub allowed: bool,
    /// Every grant that carries it (empty when denied).
    pub reasons: Vec<Reason>,
}

/// Decides whether `grants` give `permission` at `project` (or organization level) at `now`.
pub fn decide(grants: &[Grant], permission: &str, project: Option<&str>, now: i64) -> Decision {
    let reasons: Vec<Reason> = grants
        .iter()
        .filter(|g| g.live(now) && g.applies_in(project))
        .filter(|g| g.permissions.iter().any(|p| p == permission))
        .map(|g| Reason {
            role_id: g.role_id.clone(),
            role_name: g.role_name.clone(),
            via: g.via.clone(),
            project_id: g.project_id.clone(),
        })
        .collect();
    Decision {
        allowed: !reasons.is_empty(),
        reasons,
    }
}

/// The first of `permissions` that `grants` do not give, if any (for "you may only grant
/// what you hold").
pub fn first_missing<'a>(
    grants: &[Grant],
    permissions: impl IntoIterator<Item = &'a str>,
    project: Option<&str>,
    now: i64,
) -> Option<&'a str> {
    permissions
        .into_iter()
        .find(|p| !decide(grants, p, project, now).allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(
        role: &str,
        via: Via,
        project: Option<&str>,
        exp: Option<i64>,
        perms: &[&str],
    ) -> Grant {
        Grant {
            role_id: format!("role_{role}"),
            role_name: role.to_owned(),
            via,
            project_id: project.map(str::to_owned),
            expires_at: exp,
            permissions: perms.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn default_deny() {
        assert!(!decide(&[], "a", None, 0).allowed);
    }

    #[test]
    fn direct_group_project_and_expiry() {
        let gs = vec![
            grant("a", Via::Direct, None, None, &["x"]),
            grant("b", Via::Group("group_1".into()), None, Some(100), &["y"]),
            grant("c", Via::Direct, Some("p1"), None, &["z"]),
        ];
        let d = decide(&gs, "x", Some("p9"), 50);
        assert!(d.allowed);
        assert_eq!(d.reasons[0].role_id, "role_a");
        assert!(decide(&gs, "y", None, 99).allowed);
        assert_eq!(
            decide(&gs, "y", None, 99).reasons[0].via,
            Via::Group("group_1".into())
        );
        assert!(
            !decide(&gs, "y", None, 100).allowed,
            "expired at its instant"
        );
        assert!(decide(&gs, "z", Some("p1"), 0).allowed);
        assert!(!decide(&gs, "z", Some("p2"), 0).allowed);
        assert!(
            !decide(&gs, "z", None, 0).allowed,
            "project grants do not apply org-wide"
        );
        assert_eq!(first_missing(&gs, ["x", "q"], None, 0), Some("q"));
        assert_eq!(first_missing(&gs, ["x"], None, 0), None);
    }
}
