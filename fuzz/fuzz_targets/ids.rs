//! Prefixed ULID ids (path parameters, body fields, cursors): any input parses or is refused
//! without a panic; an accepted id is exactly `prefix` + 26 canonical Crockford characters,
//! round-trips, and is an id of one type only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgiam_core::ids::{
    AssignmentId, AuditId, GroupId, InviteId, KeyId, OrgId, PermissionId, ProjectId, RoleId, UserId,
};

fn shape(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|r| {
        r.len() == 26
            && r.as_bytes()[0] <= b'7'
            && r.bytes()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
    })
}

macro_rules! check {
    ($s:expr, $($t:ty),*) => {{
        let mut accepted = 0;
        $(
            if let Some(id) = <$t>::parse($s) {
                accepted += 1;
                assert!(shape($s, <$t>::PREFIX), "{:?}", $s);
                assert_eq!(id.as_str(), $s);
            }
        )*
        assert!(accepted <= 1, "{:?}", $s);
    }};
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    check!(
        &s,
        OrgId,
        UserId,
        InviteId,
        GroupId,
        ProjectId,
        RoleId,
        AuditId,
        KeyId,
        AssignmentId,
        PermissionId
    );
});
