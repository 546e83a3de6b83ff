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
    let cmp = match page.order {
        Order::Asc => ">",
        Order::Desc => "<",
    };
    let cond = if page.after.is_some() {
        format!(" AND {column} {cmp} ${param}")
    } else {
        String::new()
    };
    (cond, order_by(&[column], page))
}

/// ` ORDER BY` each of `columns` in the page's direction: for a keyset read whose condition
/// fixes the leading columns of an index, naming them all makes the index's order the plan's.
pub(crate) fn order_by(columns: &[&str], page: &PageRequest) -> String {
    let dir = match page.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    let list: Vec<String> = columns.iter().map(|c| format!("{c} {dir}")).collect();
    format!(" ORDER BY {}", list.join(", "))
}

/// SQL for a text value made safe inside a packed record (see [`records`]): `\`, `;` and `,`
/// escaped, NULL as an empty field and any other value behind a `=`.
pub(crate) fn packed_text(expr: &str) -> String {
    format!(
        r"COALESCE('=' || replace(replace(replace({expr}, '\', '\\'), ';', '\s'), ',', '\c'), '')"
    )
}

/// The value of a [`packed_text`] field (`None` for NULL).
pub(crate) fn unpack_text(field: &str) -> Option<String> {
    field.strip_prefix('=').map(unescape)
}

/// The records of a packed value (records separated by `;`, fields by `,`: an aggregate of
/// many rows in one text value), each split into `N` fields (missing ones empty). Rows read
/// one by one through the driver cost microseconds each (a copy per value and a hand-off
/// between threads per row); packed, they cost the database's scan and a split here. Ids,
/// numbers and permission names cannot contain the separators; other text goes through
/// [`packed_text`]. A text value is limited to 1 GB on both engines.
pub(crate) fn records<const N: usize>(packed: &str) -> impl Iterator<Item = [&str; N]> {
    packed.split(';').filter(|r| !r.is_empty()).map(|r| {
        let mut out = [""; N];
        for (slot, field) in out.iter_mut().zip(r.splitn(N, ',')) {
            *slot = field;
        }
        out
    })
}

/// Undoes the escaping of [`packed_text`].
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(';'),
            Some('c') => out.push(','),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_records_split_and_text_unescapes() {
        let rows: Vec<[&str; 3]> = records::<3>("r1,=a,p q;r2,=b\\c c\\s\\\\,;r3,,").collect();
        assert_eq!(
            rows,
            vec![
                ["r1", "=a", "p q"],
                ["r2", "=b\\c c\\s\\\\", ""],
                ["r3", "", ""]
            ]
        );
        assert_eq!(unpack_text(rows[1][1]).as_deref(), Some("b, c;\\"));
        assert_eq!(unpack_text(rows[2][1]), None);
        assert_eq!(unpack_text("=").as_deref(), Some(""));
        assert_eq!(records::<2>("").count(), 0);
        assert_eq!(records::<2>("x").collect::<Vec<_>>(), vec![["x", ""]]);
    }
}
