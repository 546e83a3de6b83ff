//! How answers are printed: aligned tables for people, `-o json` (one document; a list is an
//! array of the API's objects) or `-o yaml` for scripts.

use clap::ValueEnum;
use serde_json::Value;

use super::http::{Failure, Outcome};

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns (the default).
    Table,
    /// One JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

/// A column: its header and how to read it from an object.
pub type Column = (&'static str, fn(&Value) -> String);

/// The text of a field: strings as they are, null as empty, anything else as JSON.
pub fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Prints `doc` as JSON or YAML.
pub fn document(format: Format, doc: &Value) -> Outcome<()> {
    let s = match format {
        Format::Yaml => serde_yaml_ng::to_string(doc).map_err(|e| Failure::new(e.to_string()))?,
        _ => serde_json::to_string_pretty(doc).map_err(|e| Failure::new(e.to_string()))? + "\n",
    };
    print!("{s}");
    Ok(())
}

/// Prints a list: a table of `columns`, or the objects as one array.
pub fn list(format: Format, items: &[Value], columns: &[Column]) -> Outcome<()> {
    if format != Format::Table {
        return document(format, &Value::Array(items.to_vec()));
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| columns.iter().map(|(_, f)| f(i)).collect())
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        let mut out = String::new();
        for (i, (c, w)) in cells.into_iter().zip(&widths).enumerate() {
            if i + 1 == n {
                out.push_str(&c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(columns.iter().map(|(h, _)| h.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
    Ok(())
}

/// Prints one object: its `key: value` lines, or the object as one document.
pub fn object(format: Format, obj: &Value) -> Outcome<()> {
    if format != Format::Table {
        return document(format, obj);
    }
    if let Some(map) = obj.as_object() {
        let w = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        for (k, v) in map {
            println!("{k:<w$}  {}", text(Some(v)));
        }
    } else {
        println!("{}", text(Some(obj)));
    }
    Ok(())
}

/// Prints what a create or grant made: its id for people, the object for scripts.
pub fn created(format: Format, obj: &Value) -> Outcome<()> {
    if format != Format::Table {
        return document(format, obj);
    }
    println!("{}", text(obj.get("id")));
    Ok(())
}

/// Column readers shared by several lists.
pub fn id(v: &Value) -> String {
    text(v.get("id"))
}
/// The `name` field.
pub fn name(v: &Value) -> String {
    text(v.get("name"))
}
/// The `email` field.
pub fn email(v: &Value) -> String {
    text(v.get("email"))
}
/// The `role` field.
pub fn role(v: &Value) -> String {
    text(v.get("role"))
}
/// The `description` field.
pub fn description(v: &Value) -> String {
    text(v.get("description"))
}
/// The `created_at` field.
pub fn created_at(v: &Value) -> String {
    text(v.get("created_at"))
}
