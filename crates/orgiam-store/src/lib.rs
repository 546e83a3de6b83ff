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
mod export;
mod grants;
mod groups;
mod invites;
mod keys;
mod lane;
mod members;
mod model;
mod orgs;
mod permissions;
mod platform;
mod platform_roles;
mod projects;
mod roles;
mod scim;
mod scim_filter;
mod scim_tokens;
mod signals;
mod sql;
mod webhooks;
mod write;

pub use audit::wire_actor;
pub use bulk::{BulkTable, BulkWriter, Cell};
pub use console::ConsoleSession;
pub use db::{Backend, CommitHook, SqliteSync, Store, StoreOptions};
pub use engine_data::Changes;
pub use export::{Counts as TransferCounts, FORMAT as EXPORT_FORMAT, VERSION as EXPORT_VERSION};
pub use groups::{Group, GroupMember, GroupMemberAdded};
pub use keys::KeyHit;
pub use lane::remember_batches;
pub use members::NewMember;
pub use model::AppliedModel;
pub use orgs::CreatedOrganization;
pub use permissions::Permission;
pub use platform::PlatformKey;
pub use projects::{GroupSummary, Project, ProjectGroup, ProjectUser, ProjectUserRef, RoleGrant};
pub use roles::{NewRole, RoleChanges};
pub use scim::{ScimGroup, ScimNewUser, ScimUser, ScimUserChange};
pub use scim_filter::{ScimColumn, ScimFilter, ScimOp, ScimValue};
pub use scim_tokens::{ScimToken, ScimTokenHit};
pub use write::{ActorRef, AuditEvent};

// admin and user API keys
pub use apikeys::{KeyRecord, MAX_KEY_LIFETIME_SECONDS};
// invitations and the audit log
pub use audit::{AuditEntry, AuditFilter};
pub use invites::{AcceptedInvite, INVITE_LIFETIME_SECONDS, Invite, InviteProject, NewInvite};
// webhooks, their outbox and the change feed
pub use audit::FeedPage;
pub use signals::{OUTBOX_CHANNEL, Signals};
pub use webhooks::{
    AttemptResult, Claimed, Delivery, EndpointPatch, NewEndpoint, WebhookEndpoint, now_ms,
};
