//! Keyset pagination.
//!
//! Every list is ordered by a unique, creation-ordered key (the object's ULID id), and a page is
//! "the next `limit` rows after the cursor" in that order, so page 1000 costs what page 1 costs.
//! Cursors are ids of the resource being listed; anything else is a 400 naming `after`/`before`.

use crate::error::{Error, Result};

/// Sort direction of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

impl Order {
    /// Parses `asc`/`desc`, naming `order` on error.
    pub fn parse(s: Option<&str>, default: Order) -> Result<Order> {
        match s {
            None => Ok(default),
            Some("asc") => Ok(Order::Asc),
            Some("desc") => Ok(Order::Desc),
            Some(other) => Err(Error::invalid(
                "order",
                format!(
                    "order must be 'asc' or 'desc', not '{}'",
                    crate::validate::quote(other)
                ),
            )),
        }
    }
}

/// The bounds and default of one resource's `limit`.
#[derive(Debug, Clone, Copy)]
pub struct LimitBounds {
    /// Smallest accepted limit.
    pub min: u32,
    /// Largest accepted limit.
    pub max: u32,
    /// The limit when none is given.
    pub default: u32,
}

impl LimitBounds {
    /// Checks a requested limit against the bounds.
    pub fn check(self, limit: Option<i64>) -> Result<u32> {
        let Some(l) = limit else {
            return Ok(self.default);
        };
        if l < i64::from(self.min) || l > i64::from(self.max) {
            return Err(Error::invalid(
                "limit",
                format!(
                    "limit must be between {} and {}, not {l}",
                    self.min, self.max
                ),
            ));
        }
        u32::try_from(l).map_err(|_| Error::invalid("limit", "limit is out of range"))
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Rows to return.
    pub limit: u32,
    /// Return rows strictly after this key (in `order`).
    pub after: Option<String>,
    /// Return rows strictly before this key (in `order`), where the resource supports it.
    pub before: Option<String>,
    /// Direction.
    pub order: Order,
}

impl PageRequest {
    /// Validates a cursor with `parse` (an id parser), naming `param` if it is not one.
    pub fn cursor<T>(
        param: &str,
        raw: Option<&str>,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<String>> {
        match raw {
            None => Ok(None),
            Some(s) => match parse(s) {
                Some(_) => Ok(Some(s.to_owned())),
                None => Err(Error::invalid_code(
                    "invalid_cursor",
                    param,
                    format!(
                        "{param} '{}' is not a valid cursor for this list",
                        crate::validate::quote(s)
                    ),
                )),
            },
        }
    }
}

/// One page of results: the rows and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, in the requested order.
    pub items: Vec<T>,
    /// Whether rows follow the last one.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32) -> Self {
        let limit = limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Page {
            items: rows,
            has_more,
        }
    }

    /// Maps every row.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let b = LimitBounds {
            min: 1,
            max: 100,
            default: 20,
        };
        assert_eq!(b.check(None).ok(), Some(20));
        assert_eq!(b.check(Some(100)).ok(), Some(100));
        assert!(b.check(Some(0)).is_err());
        assert!(b.check(Some(101)).is_err());
        assert!(b.check(Some(-5)).is_err());
    }

    #[test]
    fn overfetch() {
        let p = Page::from_overfetch(vec![1, 2, 3], 2);
        assert_eq!(p.items, vec![1, 2]);
        assert!(p.has_more);
        let p = Page::from_overfetch(vec![1, 2], 2);
        assert!(!p.has_more);
    }
}
