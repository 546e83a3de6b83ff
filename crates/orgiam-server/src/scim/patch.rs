//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: `add`, `remove` and `replace`, with
//! and without a path, including the forms identity providers actually send: operation names
//! in any case (`Replace`), `replace` with a value object and no path whose keys may be full
//! URN paths (`"urn:…:enterprise:2.0:User:department": "…"`), value filters in paths
//! (`emails[type eq "work"].value`, `members[value eq "…"]`) and `remove` of `members` with a
//! list of values. The handler then stores the patched resource as it would a PUT, so a PATCH
//! can do nothing a PUT could not.

use orgiam_core::validate::quote;
use orgiam_core::{Error, Result};
use serde_json::{Map, Value};

use super::errors::scim_error;
use orgiam_store::ScimOp;

use super::filter::{self, AttrPath, Filter, get_ci};

/// The PatchOp message schema URN.
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The enterprise User extension's URN.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema's URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema's URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Remove,
    Replace,
}

/// A PATCH target: `[urn:]attr[.sub]` or `attr[filter][.sub]`.
#[derive(Debug, Clone)]
struct Target {
    /// The extension object the attribute lives in (`None`: the resource itself).
    ext: Option<&'static str>,
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// The canonical spelling of an attribute name given in any case.
pub fn canon(lower: &str) -> String {
    const NAMES: &[&str] = &[
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
        "externalId",
        "members",
        "groups",
        "givenName",
        "familyName",
        "formatted",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
        "value",
        "display",
        "type",
        "primary",
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
        "id",
        "meta",
        "schemas",
    ];
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(lower))
        .map_or_else(|| lower.to_owned(), |n| (*n).to_owned())
}

fn invalid_path(msg: String) -> Error {
    scim_error("invalidPath", "path", msg)
}

fn extension(urn: &str, core: &str) -> Result<Option<&'static str>> {
    if urn.eq_ignore_ascii_case(core) {
        Ok(None)
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_URN) && core == USER_URN {
        Ok(Some(ENTERPRISE_URN))
    } else {
        Err(invalid_path(format!(
            "schema '{}' is not supported here",
            quote(urn)
        )))
    }
}

fn parse_target(raw: &str, core: &str) -> Result<Target> {
    let raw = raw.trim();
    let (head, filter, tail) = match raw.find('[') {
        Some(i) => {
            let close = raw.rfind(']').ok_or_else(|| {
                invalid_path(format!("'{}' opens '[' without closing it", quote(raw)))
            })?;
            if close < i {
                return Err(invalid_path(format!("'{}' is not a path", quote(raw))));
            }
            let f = filter::parse_with(&raw[i + 1..close], "invalidPath")?;
            (&raw[..i], Some(f), &raw[close + 1..])
        }
        None => (raw, None, ""),
    };
    let path: AttrPath = filter::parse_attr_path(head, "invalidPath")?;
    let ext = match &path.urn {
        Some(u) => extension(u, core)?,
        None => None,
    };
    let mut sub = path.sub.clone();
    if !tail.is_empty() {
        let s = tail.strip_prefix('.').ok_or_else(|| {
            invalid_path(format!(
                "'{}' has text after ']' that is not '.attribute'",
                quote(raw)
            ))
        })?;
        if sub.is_some() || s.is_empty() || s.contains('.') {
            return Err(invalid_path(format!("'{}' is not a path", quote(raw))));
        }
        sub = Some(s.to_ascii_lowercase());
    }
    Ok(Target {
        ext,
        attr: path.attr,
        filter,
        sub,
    })
}

/// The key of `obj` equal to `name` case-insensitively, if any.
fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn set(obj: &mut Map<String, Value>, name: &str, v: Value) {
    let k = key_of(obj, name).unwrap_or_else(|| canon(name));
    obj.insert(k, v);
}

fn remove_key(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    key_of(obj, name).and_then(|k| obj.remove(&k))
}

/// `base` with the members of the object `extra` merged in (case-insensitive keys).
fn merge(base: &mut Value, extra: Value) {
    match (base.as_object_mut(), extra) {
        (Some(b), Value::Object(e)) => {
            for (k, v) in e {
                set(b, &k, v);
            }
        }
        (_, e) => *base = e,
    }
}

/// Whether two elements of a multi-valued attribute are the same (by `value` if they have
/// one, else equal).
fn same_element(a: &Value, b: &Value) -> bool {
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn container<'a>(resource: &'a mut Value, ext: Option<&str>) -> Result<&'a mut Map<String, Value>> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| Error::internal("resource is not an object"))?;
    let Some(urn) = ext else {
        return Ok(root);
    };
    let k = key_of(root, urn).unwrap_or_else(|| urn.to_owned());
    let slot = root.entry(k).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| Error::internal("extension is not an object"))
}

fn no_target(raw: &str) -> Error {
    scim_error(
        "noTarget",
        "path",
        format!("no value matches the path '{}'", quote(raw)),
    )
}

fn apply_at(
    resource: &mut Value,
    kind: Kind,
    raw: &str,
    t: &Target,
    value: Option<Value>,
) -> Result<()> {
    let obj = container(resource, t.ext)?;
    let need_value = || {
        scim_error(
            "invalidValue",
            "value",
            format!(
                "'{}' at '{}' needs a value",
                if kind == Kind::Add { "add" } else { "replace" },
                quote(raw)
            ),
        )
    };
    match (&t.filter, kind) {
        (None, Kind::Remove) => {
            match &t.sub {
                None => {
                    match (value, key_of(obj, &t.attr).and_then(|k| obj.get_mut(&k))) {
                        // `remove` of some elements of a multi-valued attribute, listed in `value`
                        (Some(Value::Array(gone)), Some(Value::Array(xs))) => {
                            xs.retain(|x| !gone.iter().any(|g| same_element(x, g)));
                        }
                        (Some(Value::Object(one)), Some(Value::Array(xs))) => {
                            let g = Value::Object(one);
                            xs.retain(|x| !same_element(x, &g));
                        }
                        _ => {
                            remove_key(obj, &t.attr);
                        }
                    }
                }
                Some(sub) => match key_of(obj, &t.attr).and_then(|k| obj.get_mut(&k)) {
                    Some(Value::Object(o)) => {
                        remove_key(o, sub);
                    }
                    Some(Value::Array(xs)) => {
                        for x in xs.iter_mut().filter_map(Value::as_object_mut) {
                            remove_key(x, sub);
                        }
                    }
                    _ => {}
                },
            }
            Ok(())
        }
        (None, _) => {
            let value = value.ok_or_else(need_value)?;
            match &t.sub {
                None => {
                    let existing = key_of(obj, &t.attr).and_then(|k| obj.get_mut(&k));
                    match (kind, existing, value) {
                        (Kind::Add, Some(Value::Array(xs)), Value::Array(new)) => {
                            for n in new {
                                if !xs.iter().any(|x| same_element(x, &n)) {
                                    xs.push(n);
                                }
                            }
                        }
                        (Kind::Add, Some(Value::Array(xs)), n @ Value::Object(_)) => {
                            if !xs.iter().any(|x| same_element(x, &n)) {
                                xs.push(n);
                            }
                        }
                        (_, Some(old @ Value::Object(_)), n @ Value::Object(_)) => merge(old, n),
                        (_, _, v) => set(obj, &t.attr, v),
                    }
                }
                Some(sub) => {
                    let k = key_of(obj, &t.attr).unwrap_or_else(|| canon(&t.attr));
                    let slot = obj.entry(k).or_insert_with(|| Value::Object(Map::new()));
                    match slot {
                        Value::Object(o) => set(o, sub, value),
                        Value::Array(xs) => {
                            for x in xs.iter_mut().filter_map(Value::as_object_mut) {
                                set(x, sub, value.clone());
                            }
                        }
                        other => {
                            let mut o = Map::new();
                            set(&mut o, sub, value);
                            *other = Value::Object(o);
                        }
                    }
                }
            }
            Ok(())
        }
        (Some(f), _) => {
            let k = key_of(obj, &t.attr);
            if k.is_none() && kind == Kind::Add {
                obj.insert(canon(&t.attr), Value::Array(Vec::new()));
            }
            let k = key_of(obj, &t.attr);
            let xs = match k.as_ref().and_then(|k| obj.get_mut(k)) {
                Some(Value::Array(xs)) => xs,
                _ if kind == Kind::Remove => return Ok(()),
                _ => return Err(no_target(raw)),
            };
            let hits: Vec<usize> = xs
                .iter()
                .enumerate()
                .filter(|(_, x)| filter::matches(f, x))
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                // removing what is already absent is done; adding to an element that does not
                // exist yet makes it (Entra's `emails[type eq "work"].value`); replacing
                // nothing is an error
                return match (kind, f, value) {
                    (Kind::Remove, ..) => Ok(()),
                    (Kind::Add, Filter::Cmp(p, ScimOp::Eq, key), Some(v))
                        if p.sub.is_none() && p.urn.is_none() =>
                    {
                        let mut o = Map::new();
                        set(&mut o, &p.attr, key.clone());
                        match &t.sub {
                            Some(sub) => set(&mut o, sub, v),
                            None => {
                                let mut e = Value::Object(o);
                                merge(&mut e, v);
                                xs.push(e);
                                return Ok(());
                            }
                        }
                        xs.push(Value::Object(o));
                        Ok(())
                    }
                    _ => Err(no_target(raw)),
                };
            }
            match (kind, &t.sub) {
                (Kind::Remove, None) => {
                    let mut i = 0;
                    xs.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                }
                (Kind::Remove, Some(sub)) => {
                    for i in hits {
                        if let Some(o) = xs[i].as_object_mut() {
                            remove_key(o, sub);
                        }
                    }
                }
                (_, Some(sub)) => {
                    let value = value.ok_or_else(need_value)?;
                    for i in hits {
                        if let Some(o) = xs[i].as_object_mut() {
                            set(o, sub, value.clone());
                        }
                    }
                }
                (_, None) => {
                    let value = value.ok_or_else(need_value)?;
                    for i in hits {
                        merge(&mut xs[i], value.clone());
                    }
                }
            }
            Ok(())
        }
    }
}

/// The attributes a client may not change (`mutability` error).
fn check_mutable(t: &Target, read_only: &[&str], raw: &str) -> Result<()> {
    if t.ext.is_none() && read_only.iter().any(|r| r.eq_ignore_ascii_case(&t.attr)) {
        return Err(scim_error(
            "mutability",
            "path",
            format!("'{}' is read-only", quote(raw)),
        ));
    }
    Ok(())
}

/// Applies a PatchOp message to `resource` (a resource of schema `core`); `read_only` names
/// the attributes no operation may touch.
pub fn apply(resource: &mut Value, body: &Value, core: &str, read_only: &[&str]) -> Result<()> {
    let schemas_ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|x| {
                x.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_URN))
            })
        });
    if !schemas_ok {
        return Err(scim_error(
            "invalidSyntax",
            "schemas",
            format!("a PATCH body names the schema '{PATCH_URN}'"),
        ));
    }
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            scim_error(
                "invalidSyntax",
                "Operations",
                "a PATCH body has an 'Operations' array".to_owned(),
            )
        })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(scim_error(
            "tooMany",
            "Operations",
            format!("at most {MAX_OPERATIONS} operations per PATCH"),
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let name = get_ci(op, "op").and_then(Value::as_str).unwrap_or_default();
        let kind = match name.to_ascii_lowercase().as_str() {
            "add" => Kind::Add,
            "remove" => Kind::Remove,
            "replace" => Kind::Replace,
            _ => {
                return Err(scim_error(
                    "invalidSyntax",
                    "op",
                    format!(
                        "Operations[{i}].op must be add, remove or replace, not '{}'",
                        quote(name)
                    ),
                ));
            }
        };
        let value = get_ci(op, "value").cloned();
        let path = get_ci(op, "path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty());
        match path {
            Some(raw) => {
                let t = parse_target(raw, core)?;
                check_mutable(&t, read_only, raw)?;
                apply_at(resource, kind, raw, &t, value)?;
            }
            None if kind == Kind::Remove => {
                return Err(scim_error(
                    "noTarget",
                    "path",
                    format!("Operations[{i}]: remove needs a path"),
                ));
            }
            None => {
                let Some(Value::Object(fields)) = value else {
                    return Err(scim_error(
                        "invalidValue",
                        "value",
                        format!(
                            "Operations[{i}]: without a path, value must be an object of attributes"
                        ),
                    ));
                };
                for (k, v) in fields {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    if k.eq_ignore_ascii_case(ENTERPRISE_URN) && core == USER_URN {
                        // the extension as a whole: each of its attributes
                        let Value::Object(inner) = v else {
                            return Err(scim_error(
                                "invalidValue",
                                "value",
                                format!("'{ENTERPRISE_URN}' must be an object"),
                            ));
                        };
                        for (ik, iv) in inner {
                            let raw = format!("{ENTERPRISE_URN}:{ik}");
                            let t = parse_target(&raw, core)?;
                            apply_at(resource, kind, &raw, &t, Some(iv))?;
                        }
                        continue;
                    }
                    let t = parse_target(&k, core)?;
                    // Okta repeats the resource's id beside what it changes: harmless if equal
                    if t.ext.is_none() && t.sub.is_none() && get_ci(resource, &k) == Some(&v) {
                        continue;
                    }
                    check_mutable(&t, read_only, &k)?;
                    apply_at(resource, kind, &k, &t, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn patch(mut r: Value, ops: Value) -> Result<Value> {
        apply(
            &mut r,
            &json!({"schemas": [PATCH_URN], "Operations": ops}),
            USER_URN,
            &["id", "meta", "groups"],
        )?;
        Ok(r)
    }

    #[test]
    fn entra_replace_without_path_with_urn_keys_and_string_booleans() {
        let r = patch(
            json!({"userName": "a@x.com", "active": true}),
            json!([{"op": "Replace", "value": {
                "active": "False",
                "displayName": "Ann",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
                "name.givenName": "Ann"
            }}]),
        )
        .unwrap();
        assert_eq!(r["active"], "False");
        assert_eq!(r["displayName"], "Ann");
        assert_eq!(r[ENTERPRISE_URN]["department"], "R&D");
        assert_eq!(r["name"]["givenName"], "Ann");
    }

    #[test]
    fn filtered_paths() {
        let r = json!({"emails": [{"type": "work", "value": "a@x.com", "primary": true}, {"type": "home", "value": "h@x.com"}]});
        let r = patch(r, json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.com"}])).unwrap();
        assert_eq!(r["emails"][0]["value"], "b@x.com");
        let r = patch(
            r,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .unwrap();
        assert_eq!(r["emails"].as_array().unwrap().len(), 1);
        let e = patch(
            r.clone(),
            json!([{"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(e.code, "noTarget");
        // Entra adds to an element that does not exist yet
        let r = patch(
            r,
            json!([{"op": "Add", "path": "emails[type eq \"other\"].value", "value": "o@x.com"}]),
        )
        .unwrap();
        assert_eq!(r["emails"][1], json!({"type": "other", "value": "o@x.com"}));
    }

    #[test]
    fn group_members_add_and_remove_forms() {
        let mut g = json!({"displayName": "eng", "members": [{"value": "u1"}, {"value": "u2"}]});
        apply(
            &mut g,
            &json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u1"}]},
                {"op": "remove", "path": "members[value eq \"u2\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
            ]}),
            GROUP_URN,
            &["id", "meta"],
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "u3"}]));
    }

    #[test]
    fn refusals() {
        let r = json!({"userName": "a@x.com"});
        assert_eq!(
            patch(r.clone(), json!([{"op": "remove"}]))
                .unwrap_err()
                .code,
            "noTarget"
        );
        assert_eq!(
            patch(
                r.clone(),
                json!([{"op": "replace", "path": "id", "value": "x"}])
            )
            .unwrap_err()
            .code,
            "mutability"
        );
        assert_eq!(
            patch(r.clone(), json!([{"op": "move", "path": "x"}]))
                .unwrap_err()
                .code,
            "invalidSyntax"
        );
        assert_eq!(
            patch(
                r.clone(),
                json!([{"op": "add", "path": "urn:x:y:z", "value": 1}])
            )
            .unwrap_err()
            .code,
            "invalidPath"
        );
        assert_eq!(
            patch(r, json!([{"op": "replace", "value": "x"}]))
                .unwrap_err()
                .code,
            "invalidValue"
        );
    }
}
