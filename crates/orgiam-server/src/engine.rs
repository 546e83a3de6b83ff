//! The authorization engine as the server runs it: one compiled snapshot per organization,
//! loaded on first use and kept current by the database's change log.
//!
//! Guarantees:
//! - read-your-writes: every committed write in this process raises its organization's wanted
//!   revision before the write's response is sent, and every check first brings the snapshot
//!   to at least that revision, so the next request already sees the change;
//! - other processes on the same database: their writes are noticed through PostgreSQL
//!   `LISTEN`/`NOTIFY` at once and by polling revisions every 250 ms (both engines), so a
//!   check sees them within one second; a client passing the revision a write returned
//!   (`at_least_revision`) is answered from a snapshot at least that new;
//! - catching up costs what changed: only the entities in the change log are reloaded;
//! - a cold load (an organization's first use, or after eviction) runs to its end in a task
//!   of its own: a request cut off meanwhile by the request timeout does not waste it, and
//!   the next request is answered from the snapshot it published;
//! - cached API keys of an organization are dropped as soon as its keys or memberships
//!   change, so a revoked key fails on its very next request;
//! - bounded memory: start-up loads no snapshot; when the loaded snapshots' estimated size
//!   ([`Snapshot::approx_bytes`]) passes the memory budget, the least recently used
//!   organizations are evicted (never one being loaded or updated at that moment) and rebuilt
//!   from the database on their next use, so an answer never depends on what was evicted.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use orgiam_authz::{Registry, Snapshot};
use orgiam_core::ids::OrgId;
use orgiam_core::model::Actor;
use orgiam_core::{Error, Result, now_unix};
use orgiam_store::Store;
use rustc_hash::FxHashMap;
use std::sync::Mutex;

/// Per-organization bookkeeping.
#[derive(Default)]
struct OrgState {
    /// Serializes loads and catch-ups of this organization (shared with a cold load's task).
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The newest revision known to exist.
    wanted: AtomicI64,
    /// Revision of the last change to keys or memberships seen (cached keys loaded before it
    /// are stale).
    keys_epoch: AtomicI64,
    /// Last use, as a tick of the engine's use counter (orders organizations by recency).
    last_used: AtomicU64,
    /// Estimated size of the loaded snapshot (0 when none is loaded).
    bytes: AtomicU64,
    /// The platform revision whose global catalog the loaded snapshot holds.
    platform_epoch: AtomicI64,
}

/// A cached key: the principal, its expiry, and the snapshot revision it was read at.
#[derive(Clone)]
struct CachedKey {
    actor: Actor,
    expires_at: Option<i64>,
    read_at: i64,
}

/// See the module documentation.
pub struct Engine {
    /// This engine, for the tasks it spawns.
    me: std::sync::Weak<Engine>,
    store: Store,
    registry: Registry,
    orgs: Mutex<FxHashMap<OrgId, Arc<OrgState>>>,
    keys: Mutex<FxHashMap<String, CachedKey>>,
    /// The memory budget for loaded snapshots, in estimated bytes.
    budget: u64,
    /// Estimated bytes of every loaded snapshot together.
    resident: AtomicU64,
    /// Use counter (see [`OrgState::last_used`]).
    ticks: AtomicU64,
    /// Snapshots evicted so far.
    evictions: AtomicU64,
    /// The newest platform revision known (the global catalog's change counter).
    platform: AtomicI64,
}

/// The default memory budget for loaded snapshots: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;

impl Engine {
    /// An engine over `store` with the default memory budget; installs the store's commit hook.
    pub fn new(store: Store) -> Arc<Engine> {
        Self::with_budget(store, DEFAULT_MEMORY_BUDGET)
    }

    /// An engine over `store` keeping loaded snapshots under `budget` estimated bytes.
    pub fn with_budget(store: Store, budget: u64) -> Arc<Engine> {
        let engine = Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            store: store.clone(),
            registry: Registry::new(),
            orgs: Mutex::new(FxHashMap::default()),
            keys: Mutex::new(FxHashMap::default()),
            budget,
            resident: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            platform: AtomicI64::new(0),
        });
        let weak = Arc::downgrade(&engine);
        store.set_commit_hook(Arc::new(move |org, revision| {
            if let Some(e) = weak.upgrade() {
                e.note_revision(org, revision);
            }
        }));
        engine
    }

    fn state(&self, org: &OrgId) -> Arc<OrgState> {
        let mut orgs = match self.orgs.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        orgs.entry(org.clone()).or_default().clone()
    }

    /// Records that `org` has reached `revision` (a commit here, or a notification).
    pub fn note_revision(&self, org: &OrgId, revision: i64) {
        self.state(org).wanted.fetch_max(revision, Ordering::AcqRel);
    }

    /// Records that the global catalog has reached platform revision `revision`: every
    /// snapshot brings in the catalog as it is now on its next use.
    pub fn note_platform(&self, revision: i64) {
        self.platform.fetch_max(revision, Ordering::AcqRel);
    }

    /// The snapshot of `org`, at least as new as every write known to this process and as
    /// `at_least`, holding the global catalog as of every platform change known to this
    /// process. 404 if the organization does not exist.
    pub async fn snapshot(&self, org: &OrgId, at_least: i64) -> Result<Arc<Snapshot>> {
        let st = self.state(org);
        st.last_used.store(
            self.ticks.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let wanted = st.wanted.load(Ordering::Acquire).max(at_least);
        let platform = self.platform.load(Ordering::Acquire);
        if let Some(s) = self.registry.get(org.as_str()) {
            if s.revision() >= wanted && st.platform_epoch.load(Ordering::Acquire) >= platform {
                return Ok(s);
            }
        }
        let _guard = st.lock.clone().lock_owned().await;
        let wanted = st.wanted.load(Ordering::Acquire).max(at_least);
        let platform = self.platform.load(Ordering::Acquire);
        let mut loaded = self.registry.get(org.as_str());
        if let Some(s) = &loaded {
            if st.platform_epoch.load(Ordering::Acquire) < platform {
                // the global catalog changed: bring it in (its size, not the organization's)
                let deltas = self.store.catalog_deltas(org).await?;
                let next = s.apply(s.revision(), deltas, now_unix());
                st.platform_epoch.fetch_max(platform, Ordering::AcqRel);
                self.account(&st, &next);
                self.registry.publish(org.as_str(), next);
                loaded = self.registry.get(org.as_str());
            }
        }
        match loaded {
            Some(s) if s.revision() >= wanted => Ok(s),
            Some(s) => {
                let Some(changes) = self.store.load_changes(org, s.revision()).await? else {
                    self.registry.evict(org.as_str());
                    let freed = st.bytes.swap(0, Ordering::AcqRel);
                    self.resident.fetch_sub(freed, Ordering::AcqRel);
                    return Err(Error::not_found("organization", org.as_str()));
                };
                if changes.keys_changed {
                    st.keys_epoch.fetch_max(changes.revision, Ordering::AcqRel);
                    self.drop_keys_of(org);
                }
                let next = s.apply(changes.revision, changes.deltas, now_unix());
                st.wanted.fetch_max(next.revision(), Ordering::AcqRel);
                self.account(&st, &next);
                self.registry.publish(org.as_str(), next);
                let out = self
                    .registry
                    .get(org.as_str())
                    .ok_or_else(|| Error::internal("snapshot vanished"));
                drop(_guard);
                self.evict_over_budget(org);
                out
            }
            None => {
                // read before the load: a platform change during it is brought in next time
                st.platform_epoch.fetch_max(platform, Ordering::AcqRel);
                // in a task of its own, holding the organization's lock: a request cut off
                // while it runs (the request timeout) leaves the load running, and the next
                // request, waiting on the lock, finds its snapshot published
                let engine = self
                    .me
                    .upgrade()
                    .ok_or_else(|| Error::internal("the engine is gone"))?;
                let org = org.clone();
                let task = tokio::spawn(async move {
                    let out = engine.cold_load(&st, &org).await;
                    drop(_guard);
                    if out.is_ok() {
                        engine.evict_over_budget(&org);
                    }
                    out
                });
                task.await.map_err(Error::internal)?
            }
        }
    }

    /// Loads and compiles `org`'s snapshot from the database and publishes it (the caller
    /// holds the organization's lock).
    async fn cold_load(&self, st: &OrgState, org: &OrgId) -> Result<Arc<Snapshot>> {
        let started = std::time::Instant::now();
        let data = self
            .store
            .load_org_data(org)
            .await?
            .ok_or_else(|| Error::not_found("organization", org.as_str()))?;
        let loaded = started.elapsed();
        // compiling a large organization takes a while: off the request threads
        let snap = tokio::task::spawn_blocking(move || Snapshot::from_data(data, now_unix()))
            .await
            .map_err(Error::internal)?;
        tracing::info!(
            org = org.as_str(),
            members = snap.user_count(),
            read_ms = loaded.as_secs_f64() * 1e3,
            build_ms = (started.elapsed() - loaded).as_secs_f64() * 1e3,
            "organization snapshot loaded"
        );
        st.wanted.fetch_max(snap.revision(), Ordering::AcqRel);
        st.keys_epoch.fetch_max(snap.revision(), Ordering::AcqRel);
        self.account(st, &snap);
        self.registry.publish(org.as_str(), snap);
        self.registry
            .get(org.as_str())
            .ok_or_else(|| Error::internal("snapshot vanished"))
    }

    /// Records the estimated size of the snapshot about to be published for `st`.
    fn account(&self, st: &OrgState, snap: &Snapshot) {
        let new = snap.approx_bytes() as u64;
        let old = st.bytes.swap(new, Ordering::AcqRel);
        if new >= old {
            self.resident.fetch_add(new - old, Ordering::AcqRel);
        } else {
            self.resident.fetch_sub(old - new, Ordering::AcqRel);
        }
    }

    /// Evicts the least recently used organizations (other than `keep`, and other than any
    /// being loaded or updated right now) until the loaded snapshots fit the budget.
    fn evict_over_budget(&self, keep: &OrgId) {
        if self.resident.load(Ordering::Acquire) <= self.budget {
            return;
        }
        let mut candidates: Vec<(u64, OrgId, Arc<OrgState>)> = {
            let orgs = match self.orgs.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            orgs.iter()
                .filter(|(id, st)| *id != keep && st.bytes.load(Ordering::Acquire) > 0)
                .map(|(id, st)| (st.last_used.load(Ordering::Relaxed), id.clone(), st.clone()))
                .collect()
        };
        candidates.sort_by_key(|c| c.0);
        for (_, org, st) in candidates {
            if self.resident.load(Ordering::Acquire) <= self.budget {
                break;
            }
            // an organization being loaded or caught up is in use: leave it
            let Ok(_guard) = st.lock.try_lock() else {
                continue;
            };
            self.registry.evict(org.as_str());
            let freed = st.bytes.swap(0, Ordering::AcqRel);
            self.resident.fetch_sub(freed, Ordering::AcqRel);
            self.evictions.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(org = %org, bytes = freed, "evicted a cold snapshot");
        }
    }

    /// Estimated bytes of the loaded snapshots, how many are loaded, and how many were evicted
    /// so far.
    pub fn memory(&self) -> (u64, usize, u64) {
        (
            self.resident.load(Ordering::Acquire),
            self.registry.loaded().len(),
            self.evictions.load(Ordering::Relaxed),
        )
    }

    /// Forgets a deleted organization: its snapshot and its cached keys go at once.
    pub fn forget(&self, org: &OrgId) {
        let st = self.state(org);
        self.registry.evict(org.as_str());
        let freed = st.bytes.swap(0, Ordering::AcqRel);
        self.resident.fetch_sub(freed, Ordering::AcqRel);
        self.drop_keys_of(org);
    }

    /// The snapshot of `org`, or `None` if the organization is gone (deleted, here or by
    /// another process): then it is forgotten, keys and all.
    async fn live_snapshot(&self, org: &OrgId) -> Result<Option<Arc<Snapshot>>> {
        match self.snapshot(org, 0).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind == orgiam_core::ErrorKind::NotFound => {
                self.forget(org);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn drop_keys_of(&self, org: &OrgId) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.retain(|_, k| &k.actor.org_id != org);
        }
    }

    /// The principal of a presented secret's digest, from the cache or the database. `None`
    /// for an unknown, expired or revoked key.
    pub async fn authenticate(&self, digest: &str, secret: &str) -> Result<Option<Actor>> {
        let cached = self.keys.lock().ok().and_then(|k| k.get(digest).cloned());
        if let Some(k) = cached {
            // bring the organization up to date first: that drops the key if it was revoked
            // (or the organization deleted)
            let Some(snap) = self.live_snapshot(&k.actor.org_id).await? else {
                return Ok(None);
            };
            let st = self.state(&k.actor.org_id);
            let still = self
                .keys
                .lock()
                .ok()
                .is_some_and(|keys| keys.contains_key(digest));
            if still
                && k.read_at >= st.keys_epoch.load(Ordering::Acquire)
                && snap.revision() >= k.read_at
            {
                if k.expires_at.is_some_and(|t| t <= now_unix()) {
                    return Ok(None);
                }
                return Ok(Some(k.actor));
            }
        }
        let Some(first) = self.store.lookup_key(secret).await? else {
            return Ok(None);
        };
        // bring the organization up to date, then read the key again: the revision taken
        // before the read is the one a later revocation is compared with
        let Some(snap) = self.live_snapshot(&first.actor.org_id).await? else {
            return Ok(None);
        };
        let read_at = snap.revision();
        let Some(found) = self.store.lookup_key(secret).await? else {
            return Ok(None);
        };
        let actor = found.actor.clone();
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() > 100_000 {
                keys.clear();
            }
            keys.insert(
                digest.to_owned(),
                CachedKey {
                    actor: found.actor,
                    expires_at: found.expires_at,
                    read_at,
                },
            );
        }
        Ok(Some(actor))
    }

    /// Brings every loaded organization that another process changed up to date (called
    /// periodically): notes the database's revisions, then catches up the snapshots that are
    /// behind, so that none falls further behind than the change log keeps.
    pub async fn poll(&self) {
        match self.store.platform_revision().await {
            Ok(rev) => self.note_platform(rev),
            Err(e) => tracing::warn!(error = %e.message, "could not poll the platform revision"),
        }
        let loaded: Vec<String> = self
            .registry
            .loaded()
            .iter()
            .map(|o| o.to_string())
            .collect();
        if loaded.is_empty() {
            return;
        }
        match self.store.revisions(&loaded).await {
            Ok(revs) => {
                // a loaded organization without a revision was deleted by another process
                let present: rustc_hash::FxHashSet<&str> =
                    revs.iter().map(|(id, _)| id.as_str()).collect();
                for gone in loaded.iter().filter(|o| !present.contains(o.as_str())) {
                    self.forget(&OrgId::from_trusted(gone.clone()));
                }
                for (org, rev) in revs {
                    let org = OrgId::from_trusted(org);
                    self.note_revision(&org, rev);
                    let behind = self
                        .registry
                        .get(org.as_str())
                        .is_some_and(|s| s.revision() < rev);
                    if behind {
                        if let Err(e) = self.snapshot(&org, rev).await {
                            tracing::warn!(org = %org, error = %e.message, "could not catch up");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e.message, "could not poll revisions"),
        }
    }

    /// Starts the background tasks: revision polling, `LISTEN` on PostgreSQL, change-log
    /// sweeping. They end when `stop` turns true.
    pub fn spawn_followers(
        self: &Arc<Self>,
        database_url: &str,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let me = self.clone();
        let mut stop2 = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut sweeps = 0u32;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        me.poll().await;
                        sweeps += 1;
                        if sweeps % 2400 == 0 {
                            let _ = me.store.sweep_changes(3600).await;
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        });
        if self.store.backend_is_postgres() {
            let me = self.clone();
            let url = database_url.to_owned();
            tokio::spawn(async move {
                loop {
                    match sqlx::postgres::PgListener::connect(&url).await {
                        Ok(mut listener) => {
                            if listener.listen("orgiam_changes").await.is_err() {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                            loop {
                                tokio::select! {
                                    n = listener.recv() => match n {
                                        Ok(n) => {
                                            if let Some((org, rev)) = n.payload().rsplit_once(':') {
                                                if let Ok(rev) = rev.parse::<i64>() {
                                                    if org == "platform" {
                                                        me.note_platform(rev);
                                                    } else {
                                                        me.note_revision(&OrgId::from_trusted(org.to_owned()), rev);
                                                    }
                                                }
                                            }
                                        }
                                        Err(_) => break,
                                    },
                                    _ = stop2.changed() => return,
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot LISTEN for changes; polling only");
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs(5)) => {},
                                _ = stop2.changed() => return,
                            }
                        }
                    }
                }
            });
        }
    }
}
