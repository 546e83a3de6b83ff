//! Permission names (role bodies, checks, `{permission}` path parameters): accepted exactly
//! when `[a-z0-9_.:-]{1,128}`, refused with `invalid_permission` naming the parameter; the
//! catalog lookups and resource-type parser never panic and round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgiam_core::catalog::{ResourceType, SystemRole, builtin_permission};
use orgiam_core::validate::permission_name;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let shape = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-'));
    match permission_name("permission", &s) {
        Ok(()) => assert!(shape, "{s:?}"),
        Err(e) => {
            assert!(!shape, "{s:?}");
            assert_eq!(e.code, "invalid_permission");
            assert_eq!(e.param.as_deref(), Some("permission"));
        }
    }
    if let Some(p) = builtin_permission(&s) {
        assert_eq!(p.name, &*s);
        assert!(shape);
    }
    if let Some(rt) = ResourceType::parse(&s) {
        assert_eq!(rt.as_str(), &*s);
    }
    let _ = SystemRole::from_id(&s);
    let _ = SystemRole::is_reserved_name(&s);
});
