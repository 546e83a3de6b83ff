//! Property tests for the server's request parsers: JSON bodies (`parse_json`) and query
//! strings (`Params`, with the SDK's `name[]` arrays, integers, booleans and pages). Whatever
//! the bytes, they never panic; what they refuse is a 400 naming the parameter; what they
//! accept is what was sent.

use orgiam_core::ErrorKind;
use orgiam_core::ids::RoleId;
use orgiam_core::page::{LimitBounds, Order};
use orgiam_server::api::permissions::CheckBatchRequest;
use orgiam_server::api::roles::RoleCreate;
use orgiam_server::extract::{Params, parse_json};
use proptest::prelude::*;

const BOUNDS: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// JSON-ish bytes: arbitrary bytes, arbitrary text, and mutations of a valid body.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let valid =
        r#"{"role_name": "Billing", "permissions": ["api.users.read"], "metadata": {"a": 1}}"#;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<String>().prop_map(String::into_bytes),
        (0..valid.len(), any::<u8>()).prop_map(move |(i, b)| {
            let mut v = valid.as_bytes().to_vec();
            v[i] = b;
            v
        }),
        (0..valid.len()).prop_map(move |i| valid.as_bytes()[..i].to_vec()),
        Just(br#"{"role_name": 5, "permissions": []}"#.to_vec()),
        Just(b"[1, 2]".to_vec()),
        Just(b"\"text\"".to_vec()),
        Just(br#"{"checks": [{"user_id": "u", "permission": 7}]}"#.to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_bodies_never_panic_and_errors_name_a_field(bytes in bodies()) {
        for result in [
            parse_json::<RoleCreate>(&bytes).map(|_| ()),
            parse_json::<CheckBatchRequest>(&bytes).map(|_| ()),
        ] {
            if let Err(e) = result {
                prop_assert_eq!(e.kind, ErrorKind::InvalidRequest);
                let param = e.param.clone().unwrap_or_default();
                prop_assert!(!param.is_empty(), "{e:?}");
                if param == "body" {
                    prop_assert!(matches!(e.code, "invalid_json" | "invalid_body"), "{e:?}");
                }
            }
        }
        if bytes.first().is_some_and(|b| *b == b'[') && serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
            let e = parse_json::<RoleCreate>(&bytes).err();
            prop_assert_eq!(e.map(|e| e.code), Some("invalid_body"));
        }
    }

    #[test]
    fn unknown_fields_are_ignored(key in "[a-z_]{1,12}", value in any::<i64>()) {
        prop_assume!(!matches!(key.as_str(), "role_name" | "permissions" | "description" | "metadata"));
        let body = serde_json::json!({"role_name": "R", "permissions": [], key: value}).to_string();
        let parsed = parse_json::<RoleCreate>(body.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.role_name, "R");
    }

    #[test]
    fn mistyped_fields_are_named(n in any::<i64>(), field in prop_oneof![Just("role_name"), Just("permissions")]) {
        let mut body = serde_json::json!({"role_name": "R", "permissions": []});
        body[field] = serde_json::json!(n);
        let e = parse_json::<RoleCreate>(body.to_string().as_bytes()).err();
        prop_assert_eq!(e.and_then(|e| e.param), Some(field.to_owned()));
    }

    #[test]
    fn query_strings_round_trip(pairs in proptest::collection::vec(("[a-z]{1,6}", any::<String>(), any::<bool>()), 0..8)) {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v, array) in &pairs {
            let key = if *array { format!("{k}[]") } else { k.clone() };
            ser.append_pair(&key, v);
        }
        let params = Params::parse(&ser.finish());
        for (k, _, _) in &pairs {
            let sent: Vec<String> = pairs.iter().filter(|(k2, _, _)| k2 == k).map(|(_, v, _)| v.clone()).collect();
            prop_assert_eq!(params.many(k), sent.clone());
            prop_assert_eq!(params.one(k), sent.last().map(String::as_str));
        }
    }

    #[test]
    fn raw_queries_never_panic(q in prop_oneof![any::<String>(), "([a-z]{1,6}(\\[\\])?=[%0-9A-Fa-f+&=]{0,12}&?){0,6}"]) {
        let params = Params::parse(&q);
        for name in ["limit", "after", "before", "order", "include_archived", "emails"] {
            let _ = params.one(name);
            let _ = params.many(name);
            if let Err(e) = params.int(name) {
                prop_assert_eq!(e.param.as_deref(), Some(name));
            }
            if let Err(e) = params.bool(name) {
                prop_assert_eq!(e.param.as_deref(), Some(name));
            }
        }
        if let Err(e) = params.page(BOUNDS, Some(Order::Asc), RoleId::parse) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidRequest);
            prop_assert!(matches!(e.param.as_deref(), Some("limit" | "order" | "after" | "before")), "{e:?}");
        }
    }

    #[test]
    fn integers_parse_exactly(n in any::<i64>(), pad in "[ ]{0,2}", junk in "[a-z.]{0,2}") {
        let raw = format!("{pad}{n}{junk}");
        let q = form_urlencoded::Serializer::new(String::new()).append_pair("limit", &raw).finish();
        let got = Params::parse(&q).int("limit");
        if junk.is_empty() {
            prop_assert_eq!(got.ok(), Some(Some(n)));
        } else {
            prop_assert_eq!(got.err().and_then(|e| e.param), Some("limit".to_owned()));
        }
    }

    #[test]
    fn pages_take_limits_within_bounds(limit in -5i64..200, order in prop_oneof![Just("asc"), Just("desc"), Just("up")]) {
        let q = format!("limit={limit}&order={order}");
        match Params::parse(&q).page(BOUNDS, Some(Order::Asc), RoleId::parse) {
            Ok(p) => {
                prop_assert!((1..=100).contains(&limit));
                prop_assert_eq!(i64::from(p.limit), limit);
                prop_assert_eq!(p.order, if order == "desc" { Order::Desc } else { Order::Asc });
                prop_assert!(order != "up");
            }
            Err(e) => prop_assert!(!(1..=100).contains(&limit) || order == "up", "{e:?}"),
        }
    }
}
