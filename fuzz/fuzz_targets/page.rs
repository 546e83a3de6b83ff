//! Pagination parameters: `limit` against every resource's bounds, `order`, and
//! `after`/`before` cursors. Never a panic; a limit is accepted exactly within bounds; a
//! cursor is accepted exactly when it is an id of the listed resource, and comes back as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgiam_core::ErrorKind;
use orgiam_core::ids::{RoleId, UserId};
use orgiam_core::page::{LimitBounds, Order, PageRequest};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(8));
    let mut buf = [0u8; 8];
    buf[..head.len()].copy_from_slice(head);
    let limit = i64::from_le_bytes(buf);
    for (min, max) in [(1, 100), (1, 1000), (0, 1000)] {
        let bounds = LimitBounds {
            min,
            max,
            default: 20,
        };
        match bounds.check(Some(limit)) {
            Ok(n) => assert_eq!(i64::from(n), limit),
            Err(e) => {
                assert!(limit < i64::from(min) || limit > i64::from(max));
                assert_eq!(e.kind, ErrorKind::InvalidRequest);
            }
        }
    }
    let s = String::from_utf8_lossy(rest);
    let order = Order::parse(Some(&s), Order::Asc);
    assert_eq!(order.is_ok(), s == "asc" || s == "desc");
    for param in ["after", "before"] {
        match PageRequest::cursor(param, Some(&s), RoleId::parse) {
            Ok(c) => assert_eq!(c.as_deref(), Some(&*s)),
            Err(e) => assert_eq!(e.param.as_deref(), Some(param)),
        }
        let user = PageRequest::cursor(param, Some(&s), UserId::parse);
        assert_eq!(user.is_ok(), UserId::parse(&s).is_some());
    }
});
