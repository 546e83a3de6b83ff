//! Property tests for every parser a request reaches in orgiam-core: prefixed ULID ids (path
//! parameters, body fields and cursors), pagination (`limit`, `order`, `after`/`before`),
//! permission names, names, descriptions, emails, metadata, resource types and the quoting of
//! client input in messages. Two kinds of property: a parser never panics, whatever the input;
//! and what it accepts round-trips and is exactly the documented shape, while what it refuses
//! is an invalid-request error naming the parameter.

use orgiam_core::catalog::ResourceType;
use orgiam_core::ids::{
    AssignmentId, AuditId, GroupId, InviteId, KeyId, OrgId, PermissionId, ProjectId, RoleId, UserId,
};
use orgiam_core::page::{LimitBounds, Order, PageRequest};
use orgiam_core::validate;
use orgiam_core::{Error, ErrorKind};
use proptest::prelude::*;

/// Crockford base32, the alphabet of a canonical ULID.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn is_invalid(e: &Error, param: &str) -> bool {
    e.kind == ErrorKind::InvalidRequest && e.param.as_deref() == Some(param)
}

/// The shape `prefix` + 26 canonical Crockford characters, the first at most '7'.
fn has_id_shape(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 26
            && rest.as_bytes()[0] <= b'7'
            && rest.chars().all(|c| CROCKFORD.contains(c))
    })
}

/// Arbitrary strings biased towards the interesting: near-ids, unicode, control characters.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z_]{0,8}[0-9A-Za-z]{0,30}",
        "(role_|user_|group_|proj_|org_|key_|invite_|audit_|ra_|perm_)[0-9A-Z\u{e9}\u{0}\u{1F600}]{24,28}",
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|v| v.into_iter().collect()),
    ]
}

/// Runs `parse` of every id type on `s`, checking that an accepted id has the shape and
/// round-trips, and that no id parses as another type.
macro_rules! check_all_ids {
    ($s:expr, $($t:ty),*) => {{
        let s: &str = $s;
        let mut accepted = 0;
        $(
            if let Some(id) = <$t>::parse(s) {
                accepted += 1;
                prop_assert!(has_id_shape(s, <$t>::PREFIX), "{s:?} accepted as {}", <$t>::PREFIX);
                prop_assert_eq!(id.as_str(), s);
                prop_assert_eq!(id.to_string(), s);
            }
        )*
        prop_assert!(accepted <= 1, "{s:?} parsed as {accepted} id types");
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ids_never_panic_and_accept_only_their_shape(s in nasty()) {
        check_all_ids!(&s, OrgId, UserId, InviteId, GroupId, ProjectId, RoleId, AuditId, KeyId,
            AssignmentId, PermissionId);
    }

    #[test]
    fn every_ulid_round_trips_under_its_prefix(n in any::<u128>()) {
        let ulid = ulid::Ulid(n).to_string();
        for prefix in ["role_", "user_", "group_", "proj_"] {
            let s = format!("{prefix}{ulid}");
            let parsed = match prefix {
                "role_" => RoleId::parse(&s).map(RoleId::into_string),
                "user_" => UserId::parse(&s).map(UserId::into_string),
                "group_" => GroupId::parse(&s).map(GroupId::into_string),
                _ => ProjectId::parse(&s).map(ProjectId::into_string),
            };
            prop_assert_eq!(parsed.as_deref(), Some(s.as_str()));
        }
        // Ids are case-sensitive: the lower-case spelling is not the same id.
        let lower = format!("role_{}", ulid.to_lowercase());
        prop_assert_eq!(RoleId::parse(&lower).is_some(), lower == format!("role_{ulid}"));
        // A single changed character outside the alphabet is refused.
        let mut bad = format!("role_{ulid}");
        bad.replace_range(5 + (n % 26) as usize..6 + (n % 26) as usize, "U");
        prop_assert!(RoleId::parse(&bad).is_none());
    }

    #[test]
    fn generated_ids_sort_in_creation_order(count in 2usize..50) {
        let ids: Vec<RoleId> = (0..count).map(|_| RoleId::generate()).collect();
        for pair in ids.windows(2) {
            prop_assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        for id in &ids {
            prop_assert_eq!(RoleId::parse(id.as_str()), Some(id.clone()));
        }
    }

    #[test]
    fn limit_is_accepted_exactly_within_bounds(
        min in 0u32..5, span in 0u32..2000, default_off in 0u32..2000, limit in any::<i64>(),
        near in -3i64..3, at_max in any::<bool>(),
    ) {
        let max = min + span;
        let bounds = LimitBounds { min, max, default: min + default_off.min(span) };
        prop_assert_eq!(bounds.check(None).ok(), Some(bounds.default));
        let edge = if at_max { i64::from(max) } else { i64::from(min) } + near;
        for l in [limit, edge] {
            match bounds.check(Some(l)) {
                Ok(n) => {
                    prop_assert!(l >= i64::from(min) && l <= i64::from(max));
                    prop_assert_eq!(i64::from(n), l);
                }
                Err(e) => {
                    prop_assert!(l < i64::from(min) || l > i64::from(max));
                    prop_assert!(is_invalid(&e, "limit"), "{e:?}");
                    prop_assert!(e.message.contains(&l.to_string()), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn order_accepts_asc_and_desc_only(s in nasty()) {
        match Order::parse(Some(&s), Order::Asc) {
            Ok(Order::Asc) => prop_assert_eq!(s.as_str(), "asc"),
            Ok(Order::Desc) => prop_assert_eq!(s.as_str(), "desc"),
            Err(e) => {
                prop_assert!(s != "asc" && s != "desc");
                prop_assert!(is_invalid(&e, "order"), "{e:?}");
            }
        }
        prop_assert_eq!(Order::parse(None, Order::Desc).ok(), Some(Order::Desc));
    }

    #[test]
    fn cursors_are_ids_of_the_listed_resource(s in nasty(), n in any::<u128>(), before in any::<bool>()) {
        let param = if before { "before" } else { "after" };
        let valid = format!("role_{}", ulid::Ulid(n));
        for raw in [s.as_str(), valid.as_str()] {
            match PageRequest::cursor(param, Some(raw), RoleId::parse) {
                Ok(Some(c)) => {
                    prop_assert_eq!(c.as_str(), raw);
                    prop_assert!(RoleId::parse(raw).is_some());
                }
                Ok(None) => prop_assert!(false, "a given cursor came back as none"),
                Err(e) => {
                    prop_assert!(RoleId::parse(raw).is_none());
                    prop_assert!(is_invalid(&e, param), "{e:?}");
                    prop_assert_eq!(e.code, "invalid_cursor");
                }
            }
        }
        prop_assert!(PageRequest::cursor(param, None, RoleId::parse).ok() == Some(None));
    }

    #[test]
    fn permission_names_accept_exactly_the_charset(s in nasty()) {
        let ok = validate::permission_name("permission", &s);
        let shape = !s.is_empty()
            && s.len() <= validate::MAX_PERMISSION_CHARS
            && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-'));
        prop_assert_eq!(ok.is_ok(), shape, "{:?}", s);
        if let Err(e) = ok {
            prop_assert!(is_invalid(&e, "permission"), "{e:?}");
            prop_assert_eq!(e.code, "invalid_permission");
        }
    }

    #[test]
    fn valid_permission_names_are_accepted(s in "[a-z0-9_.:-]{1,128}") {
        prop_assert!(validate::permission_name("p", &s).is_ok());
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable(s in nasty()) {
        match validate::name("name", &s) {
            Ok(t) => {
                prop_assert_eq!(t.as_str(), s.trim());
                let n = t.chars().count();
                prop_assert!((1..=validate::MAX_NAME_CHARS).contains(&n));
                prop_assert!(!t.chars().any(char::is_control));
            }
            Err(e) => prop_assert!(is_invalid(&e, "name"), "{e:?}"),
        }
    }

    #[test]
    fn descriptions_are_bounded_and_nul_free(s in nasty(), long in any::<bool>()) {
        let s = if long { s.repeat(20) } else { s };
        match validate::description("description", Some(&s)) {
            Ok(d) => {
                prop_assert_eq!(d.as_deref(), Some(s.as_str()));
                prop_assert!(s.chars().count() <= validate::MAX_DESCRIPTION_CHARS);
                prop_assert!(!s.contains('\0'));
            }
            Err(e) => prop_assert!(is_invalid(&e, "description"), "{e:?}"),
        }
    }

    #[test]
    fn emails_have_one_at_and_a_dotted_domain(s in prop_oneof![nasty(), "[a-zA-Z0-9.+]{0,12}@[a-z0-9.-]{0,12}"]) {
        match validate::email("email", &s) {
            Ok(t) => {
                prop_assert_eq!(t.as_str(), s.trim());
                let (local, domain) = t.split_once('@').unwrap_or_default();
                prop_assert!(!local.is_empty() && !domain.contains('@'));
                prop_assert!(domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
                prop_assert!(!t.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(t.chars().count() <= validate::MAX_EMAIL_CHARS);
                // The case-folded form is what uniqueness is decided on, and is stable.
                let folded = validate::fold_case(&t);
                prop_assert_eq!(validate::fold_case(&folded), folded);
            }
            Err(e) => prop_assert!(is_invalid(&e, "email"), "{e:?}"),
        }
    }

    #[test]
    fn metadata_is_a_bounded_object(keys in proptest::collection::vec(nasty(), 0..8), big in any::<bool>()) {
        let mut map = serde_json::Map::new();
        for (i, k) in keys.iter().enumerate() {
            let v = if big { k.repeat(400) } else { k.clone() };
            map.insert(format!("{k}{i}"), serde_json::Value::String(v));
        }
        let value = serde_json::Value::Object(map);
        match validate::metadata("metadata", Some(&value)) {
            Ok(Some(text)) => {
                prop_assert!(text.len() <= validate::MAX_METADATA_BYTES);
                let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                prop_assert_eq!(back, value);
            }
            Ok(None) => prop_assert!(false, "an object came back as none"),
            Err(e) => prop_assert!(is_invalid(&e, "metadata"), "{e:?}"),
        }
        for not_object in [serde_json::json!(keys), serde_json::json!(1), serde_json::json!("x")] {
            prop_assert!(validate::metadata("metadata", Some(&not_object)).is_err());
        }
    }

    #[test]
    fn quoted_input_is_short_and_printable(s in nasty()) {
        let q = validate::quote(&s);
        prop_assert!(q.chars().count() <= 65);
        prop_assert!(!q.chars().any(char::is_control));
        if s.chars().count() <= 64 && !s.chars().any(char::is_control) {
            prop_assert_eq!(q, s);
        }
    }

    #[test]
    fn resource_types_round_trip(s in nasty()) {
        if let Some(rt) = ResourceType::parse(&s) {
            prop_assert_eq!(rt.as_str(), s.as_str());
        }
        for rt in [ResourceType::Organization, ResourceType::Project] {
            prop_assert_eq!(ResourceType::parse(rt.as_str()), Some(rt));
        }
    }
}
