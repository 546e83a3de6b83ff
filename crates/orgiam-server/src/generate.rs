//! `orgiam dev generate`: a deterministic data set for benchmarks and scale tests, written
//! straight through the store's bulk loader.
//!
//! Every id, name and choice follows from the seed, so two runs with the same size and seed
//! give the same rows (only the admin keys' secrets are fresh: they are minted at random and
//! written to the keys file, never derived from the seed). The data is what the server itself
//! would have written: system role ids from the catalog, each membership's base role as an
//! ordinary assignment (`is_base = 1`), project members with a base project role, one
//! `organization.created` audit event and one admin key per organization, and each
//! organization at revision 1 with no change-log rows, as after one committed write.

use std::io::Write as _;
use std::time::{Duration, Instant};

use orgiam_core::catalog::{BUILTIN_PERMISSIONS, ResourceType, SystemRole};
use orgiam_core::keys::{self, KeyKind};
use orgiam_core::{Error, Result};
use orgiam_store::{BulkTable, BulkWriter, Cell, Store};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng as _, SeedableRng as _};

/// The preset sizes of issue 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// 10 organizations × 100 members.
    S,
    /// 1,000 organizations × 1,000 members.
    M,
    /// M plus one organization of 100,000 members and 100,000 custom roles.
    L,
}

impl Size {
    /// Parses `S`, `M` or `L` (either case).
    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "S" | "s" => Some(Size::S),
            "M" | "m" => Some(Size::M),
            "L" | "l" => Some(Size::L),
            _ => None,
        }
    }

    fn shapes(self) -> Vec<(usize, Shape)> {
        let small = Shape {
            members: 100,
            ..Shape::STANDARD
        };
        match self {
            Size::S => vec![(10, small)],
            Size::M => vec![(1_000, Shape::STANDARD)],
            Size::L => vec![(1_000, Shape::STANDARD), (1, Shape::BIG)],
        }
    }
}

/// What one organization holds.
#[derive(Debug, Clone, Copy)]
struct Shape {
    members: usize,
    custom_roles: usize,
    groups: usize,
    projects: usize,
    /// Inclusive ranges of each member's direct custom roles, groups and projects.
    direct_roles: (usize, usize),
    member_groups: (usize, usize),
    member_projects: (usize, usize),
}

impl Shape {
    const STANDARD: Shape = Shape {
        members: 1_000,
        custom_roles: 25,
        groups: 20,
        projects: 10,
        direct_roles: (1, 3),
        member_groups: (1, 2),
        member_projects: (1, 2),
    };
    const BIG: Shape = Shape {
        members: 100_000,
        custom_roles: 100_000,
        groups: 1_000,
        projects: 100,
        direct_roles: (1, 3),
        member_groups: (1, 3),
        member_projects: (0, 1),
    };
}

/// An organization the generator made, with what a benchmark needs to talk to it.
#[derive(Debug, Clone)]
pub struct GeneratedOrg {
    /// The organization's id.
    pub org_id: String,
    /// How many members it has.
    pub members: usize,
    /// How many custom roles it has.
    pub custom_roles: usize,
    /// The owner (the first member).
    pub owner_id: String,
    /// An admin key acting as the owner (secret; shown only here).
    pub admin_key: String,
    /// The second member, an ordinary one with direct and group roles.
    pub sample_user_id: String,
}

/// The result of a run.
#[derive(Debug)]
pub struct Report {
    /// Every generated organization, in generation order.
    pub orgs: Vec<GeneratedOrg>,
    /// Rows written.
    pub rows: u64,
    /// Time spent.
    pub elapsed: Duration,
}

/// Ids as the server makes them (prefix + ULID), but from the seed: each id gets its own
/// millisecond after a fixed epoch, so ids sort in generation order.
struct Ids {
    ms: u64,
    rng: StdRng,
}

impl Ids {
    /// 2026-01-01T00:00:00Z.
    const EPOCH_MS: u64 = 1_767_225_600_000;

    fn next(&mut self, prefix: &str) -> String {
        self.ms += 1;
        let u = ulid::Ulid::from_parts(self.ms, self.rng.r#gen::<u128>());
        format!("{prefix}{u}")
    }

    /// Unix seconds of the last id made.
    fn now(&self) -> i64 {
        i64::try_from(self.ms / 1000).unwrap_or(i64::MAX)
    }
}

/// A one-line progress bar on stderr.
struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    drawn: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        use std::io::IsTerminal as _;
        let now = Instant::now();
        Progress {
            total,
            done: 0,
            started: now,
            drawn: now,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn advance(&mut self, n: u64, rows: u64) {
        self.done += n;
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if self.drawn.elapsed() >= every || self.done == self.total {
            self.drawn = Instant::now();
            self.draw(rows);
        }
    }

    fn draw(&self, rows: u64) {
        const WIDTH: u64 = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "[{bar}] {}/{} members, {rows} rows, {:.0} rows/s",
            self.done,
            self.total,
            rows as f64 / secs
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn finish(&self, rows: u64) {
        self.draw(rows);
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Commit after each organization once a transaction holds this many rows.
const ROWS_PER_TRANSACTION: u64 = 100_000;

/// Generates `size` from `seed` into `store`, which must hold no organization yet (a 400
/// `database_not_empty` otherwise, with nothing written).
pub async fn generate(store: &Store, size: Size, seed: u64, progress: bool) -> Result<Report> {
    // generated ids are derived from the seed: into a used database they could collide with
    // (or quietly mix with) what is there
    if store.has_organizations().await? {
        return Err(orgiam_core::Error::invalid_code(
            "database_not_empty",
            "database",
            "the database already has organizations: generate into a fresh database \
             (a new SQLite file, or an empty PostgreSQL database)",
        ));
    }
    let started = Instant::now();
    let mut ids = Ids {
        ms: Ids::EPOCH_MS,
        rng: StdRng::seed_from_u64(seed),
    };
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1);
    let shapes = size.shapes();
    let total: u64 = shapes.iter().map(|(n, s)| (*n * s.members) as u64).sum();
    let mut bar = progress.then(|| Progress::new(total));
    let mut w = store.bulk_writer();
    let mut orgs = Vec::new();
    let mut user_n = 0u64;
    for (count, shape) in shapes {
        for _ in 0..count {
            let org = generate_org(
                &mut w,
                &mut ids,
                &mut rng,
                &shape,
                seed,
                &mut user_n,
                &mut bar,
            )
            .await?;
            w.commit_if(ROWS_PER_TRANSACTION).await?;
            orgs.push(org);
        }
    }
    w.commit_if(0).await?;
    if let Some(b) = &bar {
        b.finish(w.rows_written());
    }
    Ok(Report {
        orgs,
        rows: w.rows_written(),
        elapsed: started.elapsed(),
    })
}

/// `k` distinct indices below `n`, `k` drawn from the inclusive `range` (capped at `n`).
fn pick(rng: &mut StdRng, n: usize, range: (usize, usize)) -> Vec<usize> {
    let k = rng.gen_range(range.0..=range.1).min(n);
    sample(rng, n, k).into_vec()
}

async fn generate_org(
    w: &mut BulkWriter,
    ids: &mut Ids,
    rng: &mut StdRng,
    shape: &Shape,
    seed: u64,
    user_n: &mut u64,
    bar: &mut Option<Progress>,
) -> Result<GeneratedOrg> {
    use BulkTable as T;
    let org_id = ids.next("org_");
    let org_name = format!("Generated organization {}", &org_id[org_id.len() - 6..]);
    let now = ids.now();
    w.push(
        T::Organizations,
        vec![
            org_id.clone().into(),
            org_name.clone().into(),
            now.into(),
            1i64.into(),
            // the feed starts at the organization's beginning, as for one created by the API
            0i64.into(),
        ],
    )
    .await?;

    // the organization's own permissions, beside the built-in ones
    let mut grantable: Vec<String> = BUILTIN_PERMISSIONS
        .iter()
        // admin keys stay the owners' (no custom role hands them out)
        .filter(|p| {
            p.resource_type == ResourceType::Organization && !p.name.starts_with("api.admin_keys.")
        })
        .map(|p| p.id.to_owned())
        .collect();
    for name in [
        "documents.read",
        "documents.write",
        "billing.read",
        "billing.write",
    ] {
        let id = ids.next("perm_");
        w.push(
            T::Permissions,
            vec![
                id.clone().into(),
                org_id.clone().into(),
                name.into(),
                Cell::Text(format!("generated permission {name}")),
                ResourceType::Organization.as_str().into(),
                ids.now().into(),
            ],
        )
        .await?;
        grantable.push(id);
    }

    let mut projects = Vec::with_capacity(shape.projects);
    for i in 0..shape.projects {
        let id = ids.next("proj_");
        w.push(
            T::Projects,
            vec![
                id.clone().into(),
                org_id.clone().into(),
                Cell::Text(format!("Project {i:03}")),
                ids.now().into(),
                Cell::NullInt,
            ],
        )
        .await?;
        projects.push(id);
    }

    let mut roles = Vec::with_capacity(shape.custom_roles);
    for i in 0..shape.custom_roles {
        let id = ids.next("role_");
        let name = format!("Role {i:06}");
        let t = ids.now();
        w.push(
            T::Roles,
            vec![
                id.clone().into(),
                org_id.clone().into(),
                Cell::NullText,
                ResourceType::Organization.as_str().into(),
                name.clone().into(),
                name.to_lowercase().into(),
                Cell::Text(format!("generated role {i}")),
                Cell::NullText,
                t.into(),
                t.into(),
                Cell::NullText,
            ],
        )
        .await?;
        for p in pick(rng, grantable.len(), (1, 4)) {
            w.push(
                T::RolePermissions,
                vec![id.clone().into(), grantable[p].clone().into()],
            )
            .await?;
        }
        roles.push(id);
    }

    let mut groups = Vec::with_capacity(shape.groups);
    for i in 0..shape.groups {
        let id = ids.next("group_");
        let name = format!("Group {i:04}");
        let t = ids.now();
        w.push(
            T::Groups,
            vec![
                id.clone().into(),
                org_id.clone().into(),
                name.clone().into(),
                name.to_lowercase().into(),
                t.into(),
                t.into(),
            ],
        )
        .await?;
        groups.push(id);
    }

    let mut owner_id = String::new();
    let mut sample_user_id = String::new();
    for m in 0..shape.members {
        *user_n += 1;
        let user_id = ids.next("user_");
        let t = ids.now();
        let email = format!("user{}-{seed}@example.com", *user_n);
        w.push(
            T::Users,
            vec![
                user_id.clone().into(),
                email.clone().into(),
                email.to_lowercase().into(),
                t.into(),
            ],
        )
        .await?;
        w.push(
            T::Memberships,
            vec![
                org_id.clone().into(),
                user_id.clone().into(),
                Cell::Text(format!("User {}", *user_n)),
                t.into(),
                // not suspended, not managed by SCIM
                Cell::NullInt,
                0i64.into(),
            ],
        )
        .await?;
        let base = match m {
            0 => SystemRole::OrgOwner,
            _ if m % 50 == 1 && m > 1 => SystemRole::OrgAdmin,
            _ if m % 10 == 2 => SystemRole::OrgReader,
            _ => SystemRole::OrgMember,
        };
        assign(w, ids, &org_id, "user", &user_id, base.id_str(), None, true).await?;
        for r in pick(rng, roles.len(), shape.direct_roles) {
            assign(w, ids, &org_id, "user", &user_id, &roles[r], None, false).await?;
        }
        for g in pick(rng, groups.len(), shape.member_groups) {
            w.push(
                T::GroupMembers,
                vec![
                    org_id.clone().into(),
                    groups[g].clone().into(),
                    user_id.clone().into(),
                    t.into(),
                ],
            )
            .await?;
        }
        for p in pick(rng, projects.len(), shape.member_projects) {
            w.push(
                T::ProjectMembers,
                vec![
                    org_id.clone().into(),
                    projects[p].clone().into(),
                    user_id.clone().into(),
                    t.into(),
                ],
            )
            .await?;
            let role = match m % 5 {
                0 => SystemRole::ProjectOwner,
                1 => SystemRole::ProjectViewer,
                _ => SystemRole::ProjectMember,
            };
            assign(
                w,
                ids,
                &org_id,
                "user",
                &user_id,
                role.id_str(),
                Some(&projects[p]),
                true,
            )
            .await?;
        }
        match m {
            0 => owner_id = user_id,
            1 => sample_user_id = user_id,
            _ => {}
        }
        if let Some(b) = bar.as_mut() {
            b.advance(1, w.rows_written());
        }
    }

    // each group holds one custom role, reaching all its members
    for g in &groups {
        if roles.is_empty() {
            break;
        }
        let r = rng.gen_range(0..roles.len());
        assign(w, ids, &org_id, "group", g, &roles[r], None, false).await?;
    }

    if owner_id.is_empty() {
        return Err(Error::invalid(
            "size",
            "an organization needs at least one member",
        ));
    }
    let secret = keys::mint(KeyKind::Admin);
    w.push(
        T::ApiKeys,
        vec![
            ids.next("key_").into(),
            org_id.clone().into(),
            KeyKind::Admin.as_str().into(),
            "Generated admin key".into(),
            secret.hash.clone().into(),
            secret.redacted.clone().into(),
            owner_id.clone().into(),
            Cell::NullText,
            ids.now().into(),
            Cell::NullInt,
            Cell::NullInt,
        ],
    )
    .await?;
    let details = serde_json::json!({
        "actor": { "type": "system" },
        "payload": {
            "id": org_id,
            "data": { "name": org_name },
            "generated": { "seed": seed, "members": shape.members },
        },
    });
    let event_id = ids.next("audit_");
    w.push(
        T::AuditEvents,
        vec![
            event_id.clone().into(),
            org_id.clone().into(),
            "organization.created".into(),
            ids.now().into(),
            "system".into(),
            Cell::NullText,
            Cell::NullText,
            Cell::NullText,
            Cell::NullText,
            org_id.clone().into(),
            details.to_string().into(),
            // the revision the creation produced: the feed's first change
            1i64.into(),
        ],
    )
    .await?;
    w.push(
        T::AuditEventResources,
        vec![
            org_id.clone().into(),
            org_id.clone().into(),
            event_id.into(),
        ],
    )
    .await?;
    Ok(GeneratedOrg {
        org_id,
        members: shape.members,
        custom_roles: shape.custom_roles,
        owner_id,
        admin_key: secret.value,
        sample_user_id,
    })
}

#[allow(clippy::too_many_arguments)]
async fn assign(
    w: &mut BulkWriter,
    ids: &mut Ids,
    org_id: &str,
    kind: &str,
    principal: &str,
    role_id: &str,
    project: Option<&str>,
    is_base: bool,
) -> Result<()> {
    let (user, group) = if kind == "user" {
        (Cell::Text(principal.to_owned()), Cell::NullText)
    } else {
        (Cell::NullText, Cell::Text(principal.to_owned()))
    };
    w.push(
        BulkTable::RoleAssignments,
        vec![
            ids.next("ra_").into(),
            org_id.into(),
            role_id.into(),
            kind.into(),
            principal.into(),
            user,
            group,
            project.map(str::to_owned).into(),
            i64::from(is_base).into(),
            ids.now().into(),
            Cell::NullText,
            Cell::NullInt,
            Cell::NullText,
        ],
    )
    .await
}
