//! orgiam's storage: one SQL layer over SQLite and PostgreSQL (sqlx `Any`), embedded
//! migrations per engine, and the transactional operations every API calls. Each write runs in
//! one transaction that bumps the organization's revision and records one audit event.

mod apikeys;
mod assignments;
mod audit;
mod bulk;
mod console;
mod db;
mod engine_data;
mod grants;
mod groups;
mod invites;
mod keys;
mod lane;
mod members;
mod orgs;
mod permissions;
mod platform;
mod projects;
mod roles;
mod sql;
mod write;

pub use bulk::{BulkTable, BulkWriter, Cell};
pub use console::ConsoleSession;
pub use db::{Backend, CommitHook, SqliteSync, Store, StoreOptions};
pub use engine_data::Changes;
pub use groups::{Group, GroupMember, GroupMemberAdded};
pub use keys::KeyHit;
pub use members::NewMember;
pub use orgs::CreatedOrganization;
pub use permissions::Permission;
pub use platform::PlatformKey;
pub use projects::{GroupSummary, Project, ProjectGroup, ProjectUser, ProjectUserRef, RoleGrant};
pub use roles::{NewRole, RoleChanges};
pub use write::{ActorRef, AuditEvent};

// admin and user API keys
pub use apikeys::{KeyRecord, MAX_KEY_LIFETIME_SECONDS};
// invitations and the audit log
pub use audit::{AuditEntry, AuditFilter};
pub use invites::{AcceptedInvite, INVITE_LIFETIME_SECONDS, Invite, InviteProject, NewInvite};
