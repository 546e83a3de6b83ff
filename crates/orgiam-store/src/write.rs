//! Write transactions: every change runs in one, bumps its organization's revision and
//! records exactly one audit event before it commits.
//!
//! Bumping the revision (`UPDATE organizations … RETURNING revision`) is the first statement of
//! every write: on PostgreSQL it takes the organization's row lock, so writes to one
//! organization are serialized and checks such as "is this the last owner?" cannot race; on
//! SQLite there is a single writer anyway, and writes share commits through the write lane
//! (see `lane.rs`): each runs in a savepoint of a batch transaction, and is acknowledged once
//! the batch's `COMMIT` returned.
//!
//! Authorization is checked again inside the transaction, at the revision the write commits
//! at: recording the audit event (the last step of every write) re-reads the key's row, and,
//! when the actor's snapshot is older than that revision's predecessor, the actor's grants, on
//! the write's own connection, and refuses the write unless every permission it relied on is
//! still held (see [`WriteTx::audit`]). On PostgreSQL the organization's row lock taken by the
//! revision bump keeps a concurrent demotion or revocation out until this write is done; on
//! SQLite the batch's savepoints run one after another on one connection.

use orgiam_authz::{Grant, Holder};
use orgiam_core::ids::{AuditId, OrgId};
use orgiam_core::keys::KeyKind;
use orgiam_core::model::Actor;
use orgiam_core::{Error, Result, now_unix};
use sqlx::{Any, AnyConnection, Transaction};

use crate::db::{Store, db};
use crate::lane::LaneWrite;

/// One audit event: its type (`role.created`), the object it is about and the payload that
/// sits under the type key (with `before`/`after` where something changed).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// The event type, in the SDK's dotted style.
    pub event_type: &'static str,
    /// The id of the object changed.
    pub resource_id: String,
    /// The project, for project-scoped changes.
    pub project_id: Option<String>,
    /// The payload under the type key.
    pub payload: serde_json::Value,
}

/// Who made a change: a key's principal with what it holds, or the server itself (bootstrap,
/// the platform root key).
#[derive(Clone, Copy)]
pub enum ActorRef<'a> {
    /// A request authenticated by an organization key.
    Key {
        /// The principal.
        actor: &'a Actor,
        /// What it holds, for the no-escalation rule.
        grants: &'a dyn Holder,
    },
    /// The server itself.
    System,
    /// The platform (root key or a platform key) acting on an organization: no member, no
    /// grants to escalate past; recorded as a platform action.
    Platform(&'a orgiam_core::platform::PlatformActor),
}

impl ActorRef<'_> {
    /// The user id recorded as `created_by`.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            ActorRef::Key { actor, .. } => Some(actor.user_id.as_str()),
            ActorRef::System | ActorRef::Platform(_) => None,
        }
    }

    /// Whose authority a key this actor mints for `target` is bounded by (its `created_by`):
    /// the actor's; but when the actor mints for its own user with a key someone else minted
    /// for it, that someone's, so that such a key cannot mint itself free of its bound.
    pub fn minter_for(&self, target: &str) -> Option<&str> {
        match self {
            ActorRef::Key { actor, .. } if actor.user_id.as_str() == target => Some(
                actor
                    .minted_by
                    .as_ref()
                    .map_or(actor.user_id.as_str(), |m| m.as_str()),
            ),
            ActorRef::Key { actor, .. } => Some(actor.user_id.as_str()),
            ActorRef::System | ActorRef::Platform(_) => None,
        }
    }

    /// No privilege escalation: the actor must itself hold every permission it hands out
    /// (403 `privilege_escalation` naming the first it lacks).
    pub fn ensure_holds(&self, permissions: &[String]) -> Result<()> {
        self.ensure_holds_in(None, permissions)
    }

    /// As [`ActorRef::ensure_holds`], for grants inside `project` (organization-level holdings
    /// count there too).
    pub fn ensure_holds_in(&self, project: Option<&str>, permissions: &[String]) -> Result<()> {
        let ActorRef::Key { grants, .. } = self else {
            return Ok(());
        };
        let now = now_unix();
        match permissions.iter().find(|p| !grants.holds(p, project, now)) {
            None => Ok(()),
            Some(p) => Err(Error::forbidden(
                "privilege_escalation",
                format!("you can only grant permissions you hold yourself; you lack '{p}'"),
            )),
        }
    }

    /// The target rule: the actor must hold every permission of every live grant in
    /// `target` (a member's, or a role's about to be handed out), at that grant's scope
    /// (organization, or the grant's project). 403 `privilege_escalation` naming `whom` and
    /// the first permission lacking.
    pub fn ensure_holds_grants(&self, target: &[Grant], whom: &str) -> Result<()> {
        let ActorRef::Key { grants, .. } = self else {
            return Ok(());
        };
        let now = now_unix();
        for g in target
            .iter()
            .filter(|g| g.expires_at.is_none_or(|t| t > now))
        {
            let project = g.project_id.as_deref();
            if let Some(p) = g
                .permissions
                .iter()
                .find(|p| !grants.holds(p, project, now))
            {
                let place = match project {
                    Some(pr) => format!(" in project '{pr}'"),
                    None => String::new(),
                };
                return Err(Error::forbidden(
                    "privilege_escalation",
                    format!("{whom} holds '{p}'{place}, which you lack"),
                ));
            }
        }
        Ok(())
    }
}

/// Where a write's statements run; derefs to the connection either way.
pub(crate) enum WriteConn {
    /// PostgreSQL: a transaction of its own, row locks between concurrent writers.
    Tx(Transaction<'static, Any>),
    /// SQLite: a savepoint in the write lane's batch.
    Lane(LaneWrite),
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Tx(tx) => tx,
            WriteConn::Lane(w) => w,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Tx(tx) => tx,
            WriteConn::Lane(w) => w,
        }
    }
}

/// An open write transaction on one organization.
pub struct WriteTx {
    pub(crate) tx: WriteConn,
    hook: Option<crate::db::CommitHook>,
    signals: std::sync::Arc<crate::signals::Signals>,
    backend: crate::db::Backend,
    /// Webhook deliveries this write queued.
    enqueued: usize,
    /// The organization being changed.
    pub org_id: OrgId,
    /// The organization's revision after this change.
    pub revision: i64,
    audited: bool,
}

impl Store {
    /// Begins a write: on SQLite in the write lane, elsewhere a transaction on the write pool,
    /// begun in a task of its own so that it completes whatever happens to the caller: sqlx's
    /// `begin` is not cancel-safe on PostgreSQL (a caller dropped mid-`BEGIN`, e.g. by the
    /// request timeout, would hand the pool back a connection inside an open transaction).
    /// Dropped unused, the write rolls back.
    pub(crate) async fn begin_tx(&self) -> Result<WriteConn> {
        if let Some(lane) = &self.lane {
            return Ok(WriteConn::Lane(lane.begin().await?));
        }
        let pool = self.write.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(Error::internal)?
            .map(WriteConn::Tx)
            .map_err(db)
    }

    /// Starts a write on `org_id`; fails with 404 if the organization does not exist.
    pub async fn begin_write(&self, org_id: &OrgId) -> Result<WriteTx> {
        let mut tx = self.begin_tx().await?;
        let revision: Option<i64> = sqlx::query_scalar(
            "UPDATE organizations SET revision = revision + 1 WHERE id = $1 RETURNING revision",
        )
        .bind(org_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let revision = revision.ok_or_else(|| Error::not_found("organization", org_id.as_str()))?;
        Ok(WriteTx {
            tx,
            hook: self.on_commit.get().cloned(),
            signals: self.signals.clone(),
            backend: self.backend(),
            enqueued: 0,
            org_id: org_id.clone(),
            revision,
            audited: false,
        })
    }
}

/// Most objects one event is indexed under (a cascade's summary may name many).
const MAX_TOUCHED: usize = 1000;

/// The ids an event touches: its resource, its project and every user, role, group, project,
/// key or invitation id in its payload (`before`/`after` included), each once, the resource
/// first; at most [`MAX_TOUCHED`].
fn touched_resources<'a>(
    resource_id: &'a str,
    project_id: Option<&'a str>,
    details: &'a serde_json::Value,
) -> Vec<&'a str> {
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        use orgiam_core::ids::{GroupId, InviteId, KeyId, ProjectId, RoleId, UserId};
        if out.len() >= MAX_TOUCHED {
            return;
        }
        match v {
            serde_json::Value::String(s) => {
                let id = UserId::parse(s).is_some()
                    || RoleId::parse(s).is_some()
                    || GroupId::parse(s).is_some()
                    || ProjectId::parse(s).is_some()
                    || KeyId::parse(s).is_some()
                    || InviteId::parse(s).is_some();
                if id && !out.contains(&s.as_str()) {
                    out.push(s);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![resource_id];
    if let Some(p) = project_id.filter(|p| *p != resource_id) {
        out.push(p);
    }
    if let Some(payload) = details.get("payload") {
        walk(payload, &mut out);
    }
    out
}

impl WriteTx {
    /// Wraps a transaction that already set the organization's revision.
    pub(crate) fn new(store: &Store, tx: WriteConn, org_id: OrgId, revision: i64) -> Self {
        WriteTx {
            tx,
            hook: store.on_commit.get().cloned(),
            signals: store.signals.clone(),
            backend: store.backend(),
            enqueued: 0,
            org_id,
            revision,
            audited: false,
        }
    }

    /// Checks the actor's authority again at this write's revision: the key must still exist
    /// (unexpired), and if anything changed in the organization since the snapshot the
    /// request was authorized on, the actor (and, for a key minted by someone else, its
    /// minter) must still hold every permission this request relied on, as the write's own
    /// transaction reads them. 401 for a key revoked meanwhile, 403 `authorization_changed`
    /// otherwise.
    async fn recheck(&mut self, actor: &ActorRef<'_>) -> Result<()> {
        let ActorRef::Key { actor: a, grants } = actor else {
            return Ok(());
        };
        let now = now_unix();
        // a SCIM token acts as the member who made it, and lives in its own table
        let sql = if a.key_kind == KeyKind::Scim {
            "SELECT created_by, CAST(NULL AS BIGINT) FROM scim_tokens WHERE id = $1 AND org_id = $2"
        } else {
            "SELECT user_id, expires_at FROM api_keys WHERE id = $1 AND org_id = $2"
        };
        let key: Option<(String, Option<i64>)> = sqlx::query_as(sql)
            .bind(a.key_id.as_str())
            .bind(self.org_id.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db)?;
        match key {
            Some((user, exp)) if user == a.user_id.as_str() && exp.is_none_or(|t| t > now) => {}
            _ => {
                return Err(Error::unauthenticated(
                    "the API key was revoked or expired before this change could commit",
                ));
            }
        }
        if grants.revision() == Some(self.revision - 1) {
            // the snapshot the permissions were checked on is this write's predecessor: they
            // still hold (the key is read above regardless: it may have been authenticated
            // before that snapshot)
            return Ok(());
        }
        let mine = crate::grants::grants_in(&mut self.tx, &self.org_id, a.user_id.as_str()).await?;
        let minter = match &a.minted_by {
            Some(m) => {
                Some(crate::grants::grants_in(&mut self.tx, &self.org_id, m.as_str()).await?)
            }
            None => None,
        };
        for (p, project) in grants.relied_on() {
            let project = project.as_deref();
            let held = mine.holds(&p, project, now)
                && minter.as_ref().is_none_or(|g| g.holds(&p, project, now));
            if !held {
                return Err(Error::forbidden(
                    "authorization_changed",
                    format!(
                        "you no longer hold '{p}': your permissions changed before this change \
                         could commit"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The target rule for a change to member `user_id` (their membership, assignments or
    /// keys): the actor must hold every permission the member holds now, as this transaction
    /// reads it. Owners hold everything, so only owners manage owners.
    pub(crate) async fn ensure_covers(
        &mut self,
        actor: &ActorRef<'_>,
        user_id: &str,
    ) -> Result<()> {
        self.ensure_covers_in(actor, user_id, None).await
    }

    /// The target rule for a change inside `project` (when given): only what the member holds
    /// there counts (organization-level grants, which apply in every project, and the
    /// project's own), compared with what the actor holds there.
    pub(crate) async fn ensure_covers_in(
        &mut self,
        actor: &ActorRef<'_>,
        user_id: &str,
        project: Option<&str>,
    ) -> Result<()> {
        if !matches!(actor, ActorRef::Key { .. }) {
            return Ok(());
        }
        let org = self.org_id.clone();
        let mut target = crate::grants::grants_in(&mut self.tx, &org, user_id).await?;
        if let Some(p) = project {
            target.retain(|g| g.project_id.as_deref().is_none_or(|gp| gp == p));
            for g in &mut target {
                g.project_id = Some(p.to_owned());
            }
        }
        actor.ensure_holds_grants(&target, &format!("user '{user_id}'"))
    }

    /// Records the change's audit event (exactly once per transaction), after checking the
    /// actor's authority again at this write's revision (see `recheck`), with the revision it
    /// makes (the change feed reads events in that order), and queues the event's webhook
    /// deliveries in the same transaction (the outbox).
    pub async fn audit(&mut self, actor: &ActorRef<'_>, event: AuditEvent) -> Result<()> {
        if self.audited {
            return Err(Error::internal("a write recorded two audit events"));
        }
        self.recheck(actor).await?;
        let (actor_type, user_id, email, key_id, actor_json) = match actor {
            ActorRef::Key { actor: a, .. } => (
                "api_key",
                Some(a.user_id.as_str()),
                Some(a.email.as_str()),
                Some(a.key_id.as_str()),
                serde_json::json!({
                    "type": "api_key",
                    "api_key": {
                        "id": a.key_id.as_str(),
                        "type": "user",
                        "user": { "id": a.user_id.as_str(), "email": a.email },
                    },
                }),
            ),
            ActorRef::System => (
                "system",
                None,
                None,
                None,
                serde_json::json!({ "type": "system" }),
            ),
            ActorRef::Platform(p) => (
                "platform",
                None,
                None,
                p.key_id.as_ref().map(|k| k.as_str()),
                p.audit_json(),
            ),
        };
        let id = AuditId::generate().into_string();
        let at = now_unix();
        let data = crate::audit::feed_data(
            &id,
            event.event_type,
            at,
            self.revision,
            &actor_json,
            event.project_id.as_deref(),
            &event.payload,
        );
        let details = serde_json::json!({ "actor": actor_json, "payload": event.payload });
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, type, effective_at, actor_type, actor_user_id, \
             actor_email, actor_key_id, project_id, resource_id, details, revision) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(self.org_id.as_str())
        .bind(event.event_type)
        .bind(at)
        .bind(actor_type)
        .bind(user_id)
        .bind(email)
        .bind(key_id)
        .bind(event.project_id.as_deref())
        .bind(event.resource_id.as_str())
        .bind(details.to_string())
        .bind(self.revision)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        // every object the event touches, so that `resource_ids[]` finds it by any of them
        let touched = touched_resources(&event.resource_id, event.project_id.as_deref(), &details);
        let rows: Vec<String> = (0..touched.len())
            .map(|i| format!("($1, $2, ${})", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO audit_event_resources (org_id, event_id, resource_id) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(self.org_id.as_str()).bind(&id);
        for r in &touched {
            q = q.bind(*r);
        }
        q.execute(&mut *self.tx).await.map_err(db)?;
        self.enqueued = crate::webhooks::enqueue(
            &mut self.tx,
            self.backend,
            &self.org_id,
            self.revision,
            event.event_type,
            &data,
        )
        .await?;
        self.audited = true;
        Ok(())
    }

    /// Ends a write that changed nothing (its revision bump is undone) once whatever it read
    /// is durable: on SQLite, writes released into its batch before it, which it could see,
    /// are committed first. For answers such as "already a member" drawn from those reads.
    pub async fn settle(self) -> Result<()> {
        match self.tx {
            WriteConn::Tx(tx) => tx.rollback().await.map_err(db),
            WriteConn::Lane(w) => w.settle().await,
        }
    }

    /// Commits, then tells the commit hook; refuses to commit a change that recorded no audit
    /// event. On SQLite the commit is the batch's, shared with the writes beside it.
    pub async fn commit(self) -> Result<i64> {
        if !self.audited {
            return Err(Error::internal(
                "a write tried to commit without an audit event",
            ));
        }
        let WriteTx {
            tx,
            hook,
            signals,
            enqueued,
            org_id,
            revision,
            ..
        } = self;
        let tell = move || {
            if let Some(hook) = &hook {
                hook(&org_id, revision);
            }
            signals.changed();
            if enqueued > 0 {
                signals.outbox_written();
            }
        };
        match tx {
            WriteConn::Tx(tx) => {
                tx.commit().await.map_err(db)?;
                tell();
            }
            WriteConn::Lane(w) => w.commit(tell).await?,
        }
        Ok(revision)
    }
}
