//! Small helpers shared by the query modules.

use orgiam_core::page::{Order, PageRequest};

/// `$start, $start+1, …` for `n` values (an `IN (…)` list).
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keyset condition and order for `column` under `page`, with the cursor as `$param`.
/// Returns (`AND column > $n` or empty, `ORDER BY column ASC|DESC`).
pub(crate) fn keyset(column: &str, page: &PageRequest, param: usize) -> (String, String) {
    let (cmp, dir) = match page.order {
        Order::Asc => (">", "ASC"),
        Order::Desc => ("<", "DESC"),
    };
    let cond = if page.after.is_some() {
        format!(" AND {column} {cmp} ${param}")
    } else {
        String::new()
    };
    (cond, format!(" ORDER BY {column} {dir}"))
}
