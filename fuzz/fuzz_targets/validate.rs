//! Names, descriptions, emails and metadata from request bodies, and the quoting of client
//! input in error messages: never a panic, and what is accepted has the documented shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgiam_core::validate;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(t) = validate::name("name", &s) {
        let n = t.chars().count();
        assert!((1..=validate::MAX_NAME_CHARS).contains(&n));
        assert!(!t.chars().any(char::is_control));
    }
    if let Ok(Some(d)) = validate::description("description", Some(&s)) {
        assert!(d.chars().count() <= validate::MAX_DESCRIPTION_CHARS && !d.contains('\0'));
    }
    if let Ok(e) = validate::email("email", &s) {
        let (local, domain) = e.split_once('@').unwrap_or_default();
        assert!(!local.is_empty() && domain.contains('.') && !domain.contains('@'));
    }
    let q = validate::quote(&s);
    assert!(q.chars().count() <= 65 && !q.chars().any(char::is_control));
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(Some(text)) = validate::metadata("metadata", Some(&v)) {
            assert!(text.len() <= validate::MAX_METADATA_BYTES);
            assert!(v.is_object());
        }
    }
});
