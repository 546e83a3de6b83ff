//! Input validation shared by every API: lengths, emails, permission names, metadata.
//!
//! Each function names the parameter it checks in its error and quotes (a bounded prefix of)
//! the input, so that a 400 says what is wrong and where.

use crate::error::{Error, Result};

/// Longest role, group, project or organization name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Largest metadata object, in bytes of its JSON encoding.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest permission name.
pub const MAX_PERMISSION_CHARS: usize = 128;

/// A short, safe rendering of client input for messages (at most 64 characters, no control
/// characters).
pub fn quote(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if s.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

fn no_nul(param: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::invalid(
            param,
            format!("{param} must not contain NUL characters"),
        ));
    }
    Ok(())
}

/// A required display name: trimmed, 1..=256 characters, no NUL or other control characters.
pub fn name(param: &str, s: &str) -> Result<String> {
    no_nul(param, s)?;
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(param, format!("{param} must not be empty")));
    }
    let n = t.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(Error::invalid(
            param,
            format!("{param} is {n} characters long; the limit is {MAX_NAME_CHARS}"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(
            param,
            format!("{param} must not contain control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// An optional description of at most 4,096 characters.
pub fn description(param: &str, s: Option<&str>) -> Result<Option<String>> {
    let Some(s) = s else { return Ok(None) };
    no_nul(param, s)?;
    let n = s.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(
            param,
            format!("{param} is {n} characters long; the limit is {MAX_DESCRIPTION_CHARS}"),
        ));
    }
    Ok(Some(s.to_owned()))
}

/// Optional metadata: a JSON object of at most 16 KiB; returned as its JSON text.
pub fn metadata(param: &str, v: Option<&serde_json::Value>) -> Result<Option<String>> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ serde_json::Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > MAX_METADATA_BYTES {
                return Err(Error::invalid(
                    param,
                    format!(
                        "{param} is {} bytes of JSON; the limit is {MAX_METADATA_BYTES}",
                        text.len()
                    ),
                ));
            }
            if text.contains("\\u0000") {
                return Err(Error::invalid(
                    param,
                    format!("{param} must not contain NUL characters"),
                ));
            }
            Ok(Some(text))
        }
        Some(_) => Err(Error::invalid(
            param,
            format!("{param} must be a JSON object"),
        )),
    }
}

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces or
/// control characters, at most 254 characters. Returns it trimmed.
pub fn email(param: &str, s: &str) -> Result<String> {
    no_nul(param, s)?;
    let t = s.trim();
    let bad = || {
        Error::invalid(
            param,
            format!("{param} '{}' is not a valid email address", quote(t)),
        )
    };
    if t.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad());
    }
    let Some((local, domain)) = t.split_once('@') else {
        return Err(bad());
    };
    let domain_ok = !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok(t.to_owned())
}

/// The case-insensitive form under which emails (and names) are unique.
pub fn fold_case(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A permission name: `[a-z0-9_.:-]{1,128}`.
pub fn permission_name(param: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_PERMISSION_CHARS
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-'));
    if !ok {
        return Err(Error::invalid_code(
            "invalid_permission",
            param,
            format!(
                "{param} '{}' is not a valid permission name ([a-z0-9_.:-], 1 to {MAX_PERMISSION_CHARS} characters)",
                quote(s)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            name("name", "  Billing admin ").ok(),
            Some("Billing admin".into())
        );
        assert!(name("name", "").is_err());
        assert!(name("name", "   ").is_err());
        assert!(name("name", "a\0b").is_err());
        assert!(name("name", &"é".repeat(256)).is_ok());
        let e = name("name", &"é".repeat(257)).err();
        assert_eq!(e.and_then(|e| e.param), Some("name".into()));
    }

    #[test]
    fn emails() {
        assert!(email("email", "Ann@Example.com").is_ok());
        for bad in [
            "", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b..c", "a@@b.c", "a@.b.c",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        assert_eq!(fold_case("Ann@Example.COM"), "ann@example.com");
    }

    #[test]
    fn permission_names() {
        assert!(permission_name("p", "documents.write").is_ok());
        assert!(permission_name("p", "a:b-c_d.e9").is_ok());
        for bad in ["", "Documents", "doc write", "doc/write", "é"] {
            assert!(permission_name("p", bad).is_err(), "{bad}");
        }
        assert!(permission_name("p", &"a".repeat(129)).is_err());
    }

    #[test]
    fn metadata_limits() {
        let big = serde_json::json!({ "k": "x".repeat(MAX_METADATA_BYTES) });
        assert!(metadata("metadata", Some(&big)).is_err());
        assert!(metadata("metadata", Some(&serde_json::json!([1]))).is_err());
        assert_eq!(
            metadata("metadata", Some(&serde_json::json!({"a": 1}))).ok(),
            Some(Some("{\"a\":1}".into()))
        );
    }
}
