//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a recursive-descent parser, an
//! evaluator over JSON values (for PATCH value filters such as `members[value eq "…"]`), and
//! the resolution of a list filter onto the store's columns.
//!
//! Grammar (precedence low to high: `or`, `and`, `not`, then a comparison or a parenthesised
//! filter):
//! ```text
//! filter   = term *("or" term)
//! term     = factor *("and" factor)
//! factor   = "not" "(" filter ")" / "(" filter ")" / attrPath "[" filter "]" / attrExp
//! attrExp  = attrPath "pr" / attrPath compareOp compValue
//! attrPath = [URN ":"] ATTRNAME *1("." ATTRNAME)
//! ```
//! Attribute names and operators are case-insensitive; every error is an `invalidFilter`
//! naming the position.

use orgiam_core::validate::quote;
use orgiam_core::{Error, Result};
use orgiam_store::{ScimColumn, ScimFilter, ScimOp, ScimValue};
use serde_json::Value;

use super::errors::scim_error;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

/// An attribute path: optional schema URN, attribute, optional sub-attribute (lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, if the path named one.
    pub urn: Option<String>,
    /// The attribute, lowercased.
    pub attr: String,
    /// The sub-attribute, lowercased.
    pub sub: Option<String>,
}

impl AttrPath {
    /// `attr` or `attr.sub`, lowercased.
    pub fn dotted(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{s}", self.attr),
            None => self.attr.clone(),
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Cmp(AttrPath, ScimOp, Value),
    /// `attr pr`
    Present(AttrPath),
    /// `attr[filter]`: some element of the multi-valued `attr` matches.
    ValuePath(AttrPath, Box<Filter>),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
}

fn invalid(kind: &'static str, msg: String) -> Error {
    scim_error(kind, "filter", msg)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
}

fn lex(s: &str, kind: &'static str) -> Result<Vec<(usize, Tok)>> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push((pos, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((pos, Tok::RParen));
                i += 1;
            }
            '[' => {
                out.push((pos, Tok::LBracket));
                i += 1;
            }
            ']' => {
                out.push((pos, Tok::RBracket));
                i += 1;
            }
            '"' => {
                // a JSON string, escapes included
                let mut j = i + 1;
                let mut escaped = false;
                while j < chars.len() {
                    let c = chars[j].1;
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(invalid(
                        kind,
                        format!("unterminated string starting at position {pos}"),
                    ));
                }
                let end = chars[j].0 + 1;
                let text: String = serde_json::from_str(&s[pos..end])
                    .map_err(|e| invalid(kind, format!("bad string at position {pos}: {e}")))?;
                out.push((pos, Tok::Str(text)));
                i = j + 1;
            }
            _ => {
                let mut j = i;
                while j < chars.len()
                    && !matches!(
                        chars[j].1,
                        ' ' | '\t' | '\n' | '\r' | '(' | ')' | '[' | ']' | '"'
                    )
                {
                    j += 1;
                }
                let end = chars.get(j).map_or(s.len(), |c| c.0);
                out.push((pos, Tok::Word(s[pos..end].to_owned())));
                i = j;
            }
        }
    }
    Ok(out)
}

/// Parses an attribute path (`userName`, `name.givenName`, `urn:…:User:department`).
pub fn parse_attr_path(raw: &str, kind: &'static str) -> Result<AttrPath> {
    let (urn, rest) = if raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        match raw.rfind(':') {
            Some(i) => (Some(raw[..i].to_owned()), &raw[i + 1..]),
            None => (None, raw),
        }
    } else {
        (None, raw)
    };
    let mut parts = rest.splitn(2, '.');
    let attr = parts.next().unwrap_or_default();
    let sub = parts.next();
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !ok(attr) || sub.is_some_and(|s| !ok(s)) {
        return Err(invalid(
            kind,
            format!("'{}' is not an attribute path", quote(raw)),
        ));
    }
    Ok(AttrPath {
        urn: urn.map(|u| u.to_ascii_lowercase()),
        attr: attr.to_ascii_lowercase(),
        sub: sub.map(str::to_ascii_lowercase),
    })
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: usize,
    kind: &'static str,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.src.len(), |t| t.0)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<()> {
        if self.peek() == Some(&t) {
            self.at += 1;
            Ok(())
        } else {
            Err(invalid(
                self.kind,
                format!("expected {what} at position {}", self.pos()),
            ))
        }
    }

    fn filter(&mut self) -> Result<Filter> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(
                self.kind,
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut left = self.term()?;
        while self.peek_word("or") {
            self.at += 1;
            let right = self.term()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Result<Filter> {
        let mut left = self.factor()?;
        while self.peek_word("and") {
            self.at += 1;
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter> {
        if self.peek_word("not") {
            self.at += 1;
            self.expect(Tok::LParen, "'(' after 'not'")?;
            let f = self.filter()?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.at += 1;
            let f = self.filter()?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(f);
        }
        let pos = self.pos();
        let Some(Tok::Word(raw)) = self.peek().cloned() else {
            return Err(invalid(
                self.kind,
                format!("expected an attribute at position {pos}"),
            ));
        };
        self.at += 1;
        let path = parse_attr_path(&raw, self.kind)?;
        if self.peek() == Some(&Tok::LBracket) {
            self.at += 1;
            let inner = self.filter()?;
            self.expect(Tok::RBracket, "']'")?;
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let pos = self.pos();
        let Some(Tok::Word(op)) = self.peek().cloned() else {
            return Err(invalid(
                self.kind,
                format!(
                    "expected an operator after '{}' at position {pos}",
                    quote(&raw)
                ),
            ));
        };
        self.at += 1;
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => ScimOp::Eq,
            "ne" => ScimOp::Ne,
            "co" => ScimOp::Co,
            "sw" => ScimOp::Sw,
            "ew" => ScimOp::Ew,
            "gt" => ScimOp::Gt,
            "lt" => ScimOp::Lt,
            "ge" => ScimOp::Ge,
            "le" => ScimOp::Le,
            _ => {
                return Err(invalid(
                    self.kind,
                    format!(
                        "'{}' at position {pos} is not an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr)",
                        quote(&op)
                    ),
                ));
            }
        };
        let pos = self.pos();
        let value = match self.peek().cloned() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| {
                        invalid(
                            self.kind,
                            format!(
                                "'{}' at position {pos} is not a value: quote strings, as in \"{}\"",
                                quote(&w),
                                quote(&w)
                            ),
                        )
                    })?,
            },
            _ => {
                return Err(invalid(
                    self.kind,
                    format!("expected a value at position {pos}"),
                ));
            }
        };
        self.at += 1;
        Ok(Filter::Cmp(path, op, value))
    }
}

/// Parses a filter; errors are `kind` (`invalidFilter`, or `invalidPath` inside PATCH paths).
pub fn parse_with(src: &str, kind: &'static str) -> Result<Filter> {
    if src.len() > MAX_FILTER_LEN {
        return Err(invalid(
            kind,
            format!("the filter is longer than {MAX_FILTER_LEN} bytes"),
        ));
    }
    let toks = lex(src, kind)?;
    if toks.is_empty() {
        return Err(invalid(kind, "the filter is empty".to_owned()));
    }
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
        kind,
        src,
    };
    let f = p.filter()?;
    if p.at < p.toks.len() {
        return Err(invalid(
            kind,
            format!("unexpected text at position {}", p.pos()),
        ));
    }
    Ok(f)
}

/// Parses a list filter (`invalidFilter` on error).
pub fn parse(src: &str) -> Result<Filter> {
    parse_with(src, "invalidFilter")
}

/// The member of `obj` named `name`, case-insensitively.
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn compare(have: &Value, op: ScimOp, want: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (have, want) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                ScimOp::Co => return a.contains(&b),
                ScimOp::Sw => return a.starts_with(&b),
                ScimOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => return op == ScimOp::Ne,
    };
    match op {
        ScimOp::Eq => ord == Ordering::Equal,
        ScimOp::Ne => ord != Ordering::Equal,
        ScimOp::Gt => ord == Ordering::Greater,
        ScimOp::Lt => ord == Ordering::Less,
        ScimOp::Ge => ord != Ordering::Less,
        ScimOp::Le => ord != Ordering::Greater,
        ScimOp::Co | ScimOp::Sw | ScimOp::Ew => false,
    }
}

fn values_at<'a>(v: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(a) = get_ci(v, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match a {
        Value::Array(xs) => xs.iter().collect(),
        x => vec![x],
    };
    match &path.sub {
        None => items,
        Some(s) => items.into_iter().filter_map(|x| get_ci(x, s)).collect(),
    }
}

/// Whether the JSON value `v` matches `f` (for PATCH value filters on elements).
pub fn matches(f: &Filter, v: &Value) -> bool {
    match f {
        Filter::And(a, b) => matches(a, v) && matches(b, v),
        Filter::Or(a, b) => matches(a, v) || matches(b, v),
        Filter::Not(a) => !matches(a, v),
        Filter::Present(p) => values_at(v, p)
            .iter()
            .any(|x| !x.is_null() && x.as_str() != Some("")),
        Filter::Cmp(p, op, want) => {
            let have = values_at(v, p);
            if have.is_empty() {
                return *op == ScimOp::Ne;
            }
            have.iter().any(|h| compare(h, *op, want))
        }
        Filter::ValuePath(p, inner) => get_ci(v, &p.attr)
            .and_then(Value::as_array)
            .is_some_and(|xs| xs.iter().any(|x| matches(inner, x))),
    }
}

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:group";

fn date_value(v: &Value, attr: &str) -> Result<ScimValue> {
    let s = v.as_str().ok_or_else(|| {
        invalid(
            "invalidFilter",
            format!("{attr} is compared with a date string such as \"2026-01-31T00:00:00Z\""),
        )
    })?;
    let t = parse_rfc3339(s).ok_or_else(|| {
        invalid(
            "invalidFilter",
            format!("'{}' is not an RFC 3339 date-time", quote(s)),
        )
    })?;
    Ok(ScimValue::Int(t))
}

/// Unix seconds of an RFC 3339 date-time (`2026-01-31T12:00:00Z`, `…T12:00:00.5+01:00`);
/// fractions of a second are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.get(1..)?;
            if o.len() != 5 || o.as_bytes()[2] != b':' {
                return None;
            }
            let oh: i64 = o.get(0..2)?.parse().ok()?;
            let om: i64 = o.get(3..5)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // days from civil (H. Hinnant's algorithm)
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn resolve_cmp(col: ScimColumn, attr: &str, op: ScimOp, v: &Value) -> Result<ScimFilter> {
    let value = match col {
        ScimColumn::UserActive => {
            let b = match v {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => {
                    return Err(invalid(
                        "invalidFilter",
                        "active is compared with true or false".to_owned(),
                    ));
                }
            };
            if !matches!(op, ScimOp::Eq | ScimOp::Ne) {
                return Err(invalid(
                    "invalidFilter",
                    "active takes only eq, ne and pr".to_owned(),
                ));
            }
            ScimValue::Bool(b)
        }
        ScimColumn::UserCreated
        | ScimColumn::UserLastModified
        | ScimColumn::GroupCreated
        | ScimColumn::GroupLastModified => {
            if matches!(op, ScimOp::Co | ScimOp::Sw | ScimOp::Ew) {
                return Err(invalid(
                    "invalidFilter",
                    format!("{attr} is a date: use eq, ne, gt, lt, ge or le"),
                ));
            }
            date_value(v, attr)?
        }
        _ => match v {
            Value::String(s) => ScimValue::Text(s.clone()),
            _ => {
                return Err(invalid(
                    "invalidFilter",
                    format!("{attr} is a string: compare it with a quoted value"),
                ));
            }
        },
    };
    Ok(ScimFilter::Cmp(col, op, value))
}

/// Which resource a list filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/Users`
    User,
    /// `/Groups`
    Group,
}

fn column(resource: Resource, path: &AttrPath) -> Option<ScimColumn> {
    let urn_ok = match (&path.urn, resource) {
        (None, _) => true,
        (Some(u), Resource::User) => u == USER_URN,
        (Some(u), Resource::Group) => u == GROUP_URN,
    };
    if !urn_ok {
        return None;
    }
    let c = match (resource, path.dotted().as_str()) {
        (Resource::User, "id") => ScimColumn::UserId,
        (Resource::User, "username" | "emails.value" | "emails") => ScimColumn::UserName,
        (Resource::User, "externalid") => ScimColumn::UserExternalId,
        (Resource::User, "displayname") => ScimColumn::UserDisplayName,
        (Resource::User, "active") => ScimColumn::UserActive,
        (Resource::User, "meta.created") => ScimColumn::UserCreated,
        (Resource::User, "meta.lastmodified") => ScimColumn::UserLastModified,
        (Resource::Group, "id") => ScimColumn::GroupId,
        (Resource::Group, "displayname") => ScimColumn::GroupDisplayName,
        (Resource::Group, "externalid") => ScimColumn::GroupExternalId,
        (Resource::Group, "members.value" | "members") => ScimColumn::GroupMember,
        (Resource::Group, "meta.created") => ScimColumn::GroupCreated,
        (Resource::Group, "meta.lastmodified") => ScimColumn::GroupLastModified,
        _ => return None,
    };
    Some(c)
}

const USER_FILTERABLE: &str =
    "userName, emails.value, externalId, displayName, active, id, meta.created, meta.lastModified";
const GROUP_FILTERABLE: &str =
    "displayName, externalId, members.value, id, meta.created, meta.lastModified";

/// Resolves a parsed list filter onto the store's columns; an attribute that cannot be
/// filtered on is an `invalidFilter` naming the ones that can.
pub fn resolve(f: &Filter, resource: Resource) -> Result<ScimFilter> {
    let unknown = |p: &AttrPath| {
        let list = match resource {
            Resource::User => USER_FILTERABLE,
            Resource::Group => GROUP_FILTERABLE,
        };
        invalid(
            "invalidFilter",
            format!(
                "cannot filter on '{}'; filterable attributes: {list}",
                quote(&p.dotted())
            ),
        )
    };
    Ok(match f {
        Filter::And(a, b) => ScimFilter::And(
            Box::new(resolve(a, resource)?),
            Box::new(resolve(b, resource)?),
        ),
        Filter::Or(a, b) => ScimFilter::Or(
            Box::new(resolve(a, resource)?),
            Box::new(resolve(b, resource)?),
        ),
        Filter::Not(a) => ScimFilter::Not(Box::new(resolve(a, resource)?)),
        Filter::Present(p) => ScimFilter::Present(column(resource, p).ok_or_else(|| unknown(p))?),
        Filter::Cmp(p, op, v) => {
            let col = column(resource, p).ok_or_else(|| unknown(p))?;
            resolve_cmp(col, &p.dotted(), *op, v)?
        }
        Filter::ValuePath(p, inner) => {
            // `emails[value …]`, `members[value …]`: the inner filter's sub-attributes are the
            // multi-valued attribute's
            let prefixed = prefix(inner, &p.attr)?;
            resolve(&prefixed, resource)?
        }
    })
}

/// `inner` with every attribute `a` rewritten to `outer.a` (for value paths in list filters).
fn prefix(inner: &Filter, outer: &str) -> Result<Filter> {
    let fix = |p: &AttrPath| -> Result<AttrPath> {
        if p.sub.is_some() || p.urn.is_some() {
            return Err(invalid(
                "invalidFilter",
                format!("'{}' cannot appear inside '{outer}[…]'", quote(&p.dotted())),
            ));
        }
        Ok(AttrPath {
            urn: None,
            attr: outer.to_owned(),
            sub: Some(p.attr.clone()),
        })
    };
    Ok(match inner {
        Filter::And(a, b) => Filter::And(Box::new(prefix(a, outer)?), Box::new(prefix(b, outer)?)),
        Filter::Or(a, b) => Filter::Or(Box::new(prefix(a, outer)?), Box::new(prefix(b, outer)?)),
        Filter::Not(a) => Filter::Not(Box::new(prefix(a, outer)?)),
        Filter::Present(p) => Filter::Present(fix(p)?),
        Filter::Cmp(p, op, v) => Filter::Cmp(fix(p)?, *op, v.clone()),
        Filter::ValuePath(..) => {
            return Err(invalid(
                "invalidFilter",
                "value filters do not nest".to_owned(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Filter {
        parse(s).unwrap()
    }

    #[test]
    fn precedence_and_parentheses() {
        let f = p(r#"userName eq "a" or displayName co "b" and active eq true"#);
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(..))));
        let g = p(r#"(userName eq "a" or displayName co "b") and active eq true"#);
        assert!(matches!(g, Filter::And(ref l, _) if matches!(**l, Filter::Or(..))));
        let n = p(r#"not (userName sw "x") AND externalId PR"#);
        assert!(matches!(n, Filter::And(ref l, _) if matches!(**l, Filter::Not(..))));
    }

    #[test]
    fn value_paths_and_urns() {
        let f = p(r#"emails[type eq "work" and value co "@example.com"]"#);
        assert!(matches!(f, Filter::ValuePath(ref a, _) if a.attr == "emails"));
        let u = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#);
        let Filter::Cmp(path, ..) = u else { panic!() };
        assert_eq!(path.attr, "username");
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:user")
        );
    }

    #[test]
    fn errors_name_the_position() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "a""#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"userName eq "unterminated"#,
            r#"userName eq bare"#,
            r#"not userName eq "a""#,
            r#"userName eq "a")"#,
            "1abc eq \"x\"",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, "invalidFilter", "{bad}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(parse(&deep).unwrap_err().code, "invalidFilter");
    }

    #[test]
    fn evaluates_on_json() {
        let member = json!({"value": "user_1", "display": "Ann"});
        assert!(matches(&p(r#"value eq "user_1""#), &member));
        assert!(!matches(&p(r#"value eq "user_2""#), &member));
        assert!(matches(&p(r#"display sw "an""#), &member));
        assert!(matches(&p(r#"not (value eq "user_2")"#), &member));
        let user = json!({"emails": [{"type": "work", "value": "a@x.com"}]});
        assert!(matches(&p(r#"emails[type eq "work"]"#), &user));
        assert!(matches(&p(r#"emails.value ew ".COM""#), &user));
    }

    #[test]
    fn dates_round_trip() {
        for t in [0, 86_399, 951_782_400, 1_767_225_600, 4_102_444_800] {
            let text = crate::dialects::rfc3339(t);
            assert_eq!(parse_rfc3339(&text), Some(t), "{text}");
        }
        assert_eq!(
            parse_rfc3339("2026-01-01T01:00:00.123+01:00"),
            Some(1_767_225_600)
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "x026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// The parser answers any string with a filter or an `invalidFilter`, never a panic.
        #[test]
        fn parser_total(s in r#"[a-zA-Z0-9 "()\[\].:\\é-]{0,60}"#) {
            match parse(&s) {
                Ok(f) => {
                    let _ = resolve(&f, Resource::User);
                    let _ = resolve(&f, Resource::Group);
                    let _ = matches(&f, &json!({"userName": "a", "emails": [{"value": "b"}]}));
                }
                Err(e) => proptest::prop_assert_eq!(e.code, "invalidFilter"),
            }
        }
    }

    #[test]
    fn resolves_onto_columns() {
        let f = resolve(&p(r#"userName eq "A@x.com""#), Resource::User).unwrap();
        assert_eq!(
            f,
            ScimFilter::Cmp(
                ScimColumn::UserName,
                ScimOp::Eq,
                ScimValue::Text("A@x.com".into())
            )
        );
        let d = resolve(
            &p(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#),
            Resource::User,
        )
        .unwrap();
        assert!(matches!(
            d,
            ScimFilter::Cmp(
                ScimColumn::UserLastModified,
                ScimOp::Gt,
                ScimValue::Int(1_767_225_600)
            )
        ));
        assert_eq!(
            resolve(&p(r#"title eq "x""#), Resource::User)
                .unwrap_err()
                .code,
            "invalidFilter"
        );
        assert_eq!(
            resolve(&p(r#"active co "x""#), Resource::User)
                .unwrap_err()
                .code,
            "invalidFilter"
        );
        let m = resolve(&p(r#"members[value eq "user_1"]"#), Resource::Group).unwrap();
        assert!(matches!(
            m,
            ScimFilter::Cmp(ScimColumn::GroupMember, ScimOp::Eq, _)
        ));
    }

    /// Every string the parser is given, it answers without panicking: a filter or an error.
    #[test]
    fn never_panics_on_arbitrary_input() {
        let alphabet = [
            "userName", " ", "eq", "\"a\"", "(", ")", "[", "]", "and", "or", "not", "pr", ".", ":",
            "\\", "\"", "é", "co", "true", "1",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            seed = seed.wrapping_add(1);
            if let Ok(f) = parse(&s) {
                let _ = resolve(&f, Resource::User);
                let _ = matches(&f, &json!({"userName": "a"}));
            }
        }
    }
}
