//! SCIM list filters resolved to columns, compiled to SQL with every value bound (never
//! spliced), the same on SQLite and PostgreSQL.

use orgiam_core::validate;

/// An attribute a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimColumn {
    /// User `id`.
    UserId,
    /// `userName` and `emails.value`: the email, case-insensitively.
    UserName,
    /// User `externalId`, case-exact.
    UserExternalId,
    /// User `displayName`, case-insensitively.
    UserDisplayName,
    /// `active`.
    UserActive,
    /// User `meta.created` (Unix seconds).
    UserCreated,
    /// User `meta.lastModified` (Unix seconds).
    UserLastModified,
    /// Group `id`.
    GroupId,
    /// Group `displayName`, case-insensitively.
    GroupDisplayName,
    /// Group `externalId`, case-exact.
    GroupExternalId,
    /// Group `members.value`: a member's user id.
    GroupMember,
    /// Group `meta.created` (Unix seconds).
    GroupCreated,
    /// Group `meta.lastModified` (Unix seconds).
    GroupLastModified,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co`
    Co,
    /// `sw`
    Sw,
    /// `ew`
    Ew,
    /// `gt`
    Gt,
    /// `lt`
    Lt,
    /// `ge`
    Ge,
    /// `le`
    Le,
}

/// A compared value, already of the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimValue {
    /// A string.
    Text(String),
    /// A date as Unix seconds.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A filter over attributes (RFC 7644 §3.4.2.2), resolved to columns.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimFilter {
    /// `attr op value`
    Cmp(ScimColumn, ScimOp, ScimValue),
    /// `attr pr`
    Present(ScimColumn),
    /// `a and b`
    And(Box<ScimFilter>, Box<ScimFilter>),
    /// `a or b`
    Or(Box<ScimFilter>, Box<ScimFilter>),
    /// `not (a)`
    Not(Box<ScimFilter>),
}

/// A value bound to a placeholder.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// Compiles filters to SQL, collecting the bound values.
pub(crate) struct Compiler {
    /// PostgreSQL (`strpos`) or SQLite (`instr`).
    pub(crate) postgres: bool,
    /// The number of the first placeholder the filter may use.
    pub(crate) first: usize,
    /// The values bound so far, in placeholder order.
    pub(crate) binds: Vec<Bind>,
}

impl Compiler {
    fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.first + self.binds.len() - 1)
    }

    fn column(c: ScimColumn) -> (&'static str, bool) {
        // (SQL expression, compared case-insensitively)
        match c {
            ScimColumn::UserId => ("m.user_id", false),
            ScimColumn::UserName => ("u.email_key", true),
            ScimColumn::UserExternalId => ("s.external_id", false),
            ScimColumn::UserDisplayName => ("LOWER(m.name)", true),
            ScimColumn::UserActive => ("m.suspended_at", false),
            ScimColumn::UserCreated => ("m.created_at", false),
            ScimColumn::UserLastModified => ("COALESCE(s.updated_at, m.created_at)", false),
            ScimColumn::GroupId => ("g.id", false),
            ScimColumn::GroupDisplayName => ("g.name_key", true),
            ScimColumn::GroupExternalId => ("sg.external_id", false),
            ScimColumn::GroupMember => ("gm.user_id", false),
            ScimColumn::GroupCreated => ("g.created_at", false),
            ScimColumn::GroupLastModified => ("g.updated_at", false),
        }
    }

    /// The SQL condition of `f`, its values appended to the binds.
    pub(crate) fn compile(&mut self, f: &ScimFilter) -> String {
        match f {
            ScimFilter::And(a, b) => format!("({} AND {})", self.compile(a), self.compile(b)),
            ScimFilter::Or(a, b) => format!("({} OR {})", self.compile(a), self.compile(b)),
            ScimFilter::Not(a) => format!("(NOT {})", self.compile(a)),
            ScimFilter::Present(ScimColumn::UserActive) => "(1 = 1)".to_owned(),
            ScimFilter::Present(ScimColumn::GroupMember) => {
                "EXISTS (SELECT 1 FROM group_members gm WHERE gm.org_id = g.org_id AND gm.group_id = g.id)".to_owned()
            }
            ScimFilter::Present(c) => {
                let (col, _) = Self::column(*c);
                if is_text(*c) {
                    format!("({col} IS NOT NULL AND {col} <> '')")
                } else {
                    format!("({col} IS NOT NULL)")
                }
            }
            ScimFilter::Cmp(ScimColumn::UserActive, op, v) => {
                let want = matches!(v, ScimValue::Bool(true));
                let active = match op {
                    ScimOp::Ne => !want,
                    _ => want,
                };
                if active {
                    "(m.suspended_at IS NULL)".to_owned()
                } else {
                    "(m.suspended_at IS NOT NULL)".to_owned()
                }
            }
            ScimFilter::Cmp(ScimColumn::GroupMember, op, v) => {
                let inner = self.compile(&ScimFilter::Cmp(ScimColumn::UserId, *op, v.clone()));
                format!(
                    "EXISTS (SELECT 1 FROM group_members gm JOIN memberships m \
                     ON m.org_id = gm.org_id AND m.user_id = gm.user_id \
                     WHERE gm.org_id = g.org_id AND gm.group_id = g.id AND {inner})"
                )
            }
            ScimFilter::Cmp(c, op, v) => {
                let (col, fold) = Self::column(*c);
                let p = match v {
                    ScimValue::Text(t) => self.param(Bind::Text(if fold {
                        validate::fold_case(t)
                    } else {
                        t.clone()
                    })),
                    ScimValue::Int(i) => self.param(Bind::Int(*i)),
                    ScimValue::Bool(b) => self.param(Bind::Int(i64::from(*b))),
                };
                let find = if self.postgres { "strpos" } else { "instr" };
                // an absent value matches no comparison but `ne` (so `not (a eq "x")` holds
                // where `a` is absent, as RFC 7644 reads it)
                let cmp = match op {
                    ScimOp::Eq => format!("({col} = {p})"),
                    ScimOp::Ne => format!("({col} IS NULL OR {col} <> {p})"),
                    ScimOp::Co => format!("({find}({col}, {p}) > 0)"),
                    ScimOp::Sw => format!("({find}({col}, {p}) = 1)"),
                    ScimOp::Ew => format!(
                        "(length({col}) >= length({p}) AND substr({col}, length({col}) - length({p}) + 1) = {p})"
                    ),
                    ScimOp::Gt => format!("({col} > {p})"),
                    ScimOp::Lt => format!("({col} < {p})"),
                    ScimOp::Ge => format!("({col} >= {p})"),
                    ScimOp::Le => format!("({col} <= {p})"),
                };
                if *op == ScimOp::Ne {
                    cmp
                } else {
                    format!("({col} IS NOT NULL AND {cmp})")
                }
            }
        }
    }
}

fn is_text(c: ScimColumn) -> bool {
    !matches!(
        c,
        ScimColumn::UserCreated
            | ScimColumn::UserLastModified
            | ScimColumn::GroupCreated
            | ScimColumn::GroupLastModified
    )
}

/// `q` with the compiled filter's values bound, in order.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}
