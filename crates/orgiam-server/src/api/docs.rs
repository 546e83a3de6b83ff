//! The `/docs` page: the OpenAPI document rendered by the server itself as one static HTML
//! page (operations by tag, with their parameters, bodies, answers and schemas).
//!
//! Guarantees: the page needs nothing but the binary. It loads no script, style or font from
//! anywhere (it has no script at all), so it works on a machine without internet and trusts
//! no third party with an admin page; its `Content-Security-Policy` forbids any other source.
//! Every string taken from the document is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;

/// The page, rendered once from [`super::openapi_json`].
pub fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let doc: Value = serde_json::from_str(super::openapi_json()).unwrap_or(Value::Null);
        render(&doc)
    })
}

/// The policy sent with the page: nothing loads from anywhere, inline styles only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1b1b}\
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}\
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}\
summary{cursor:pointer}.m{display:inline-block;min-width:4.2rem;font-weight:600;text-transform:uppercase}\
.get{color:#1565c0}.post{color:#2e7d32}.delete{color:#c62828}.put,.patch{color:#ef6c00}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
nav a{margin-right:.8rem}.op{color:#666;font-size:12px}";

/// HTML-escapes `s`.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An anchor id from any text (letters, digits and `-` only).
fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A schema reference (or an inline schema) in short form, linked to its definition.
fn schema_link(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!(
            "<a href=\"#schema-{}\"><code>{}</code></a>",
            anchor(name),
            esc(name)
        );
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_link(items));
    }
    let t = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "value".to_owned(),
    };
    format!("<code>{}</code>", esc(&t))
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).map(esc).unwrap_or_default()
}

fn render_operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        out,
        "<details id=\"op-{}\"><summary><span class=\"m {method}\">{method}</span> <code>{}</code> {} <span class=\"op\">{}</span></summary>",
        anchor(
            op.get("operationId")
                .and_then(Value::as_str)
                .unwrap_or(path)
        ),
        esc(path),
        text(op.get("summary")),
        text(op.get("operationId")),
    );
    if let Some(d) = op.get("description").and_then(Value::as_str) {
        let _ = write!(out, "<p>{}</p>", esc(d));
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr>");
        for p in params {
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(p.get("name")),
                if required { " (required)" } else { "" },
                text(p.get("in")),
                p.get("schema").map(schema_link).unwrap_or_default(),
                text(p.get("description")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        let schema = body
            .pointer("/content/application~1json/schema")
            .map(schema_link)
            .unwrap_or_default();
        let optional = body.get("required").and_then(Value::as_bool) == Some(false);
        let _ = write!(
            out,
            "<p>body{}: {schema}</p>",
            if optional { " (optional)" } else { "" }
        );
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str("<table><tr><th>status</th><th>body</th><th>when</th></tr>");
        for (status, r) in responses {
            let schema = r
                .pointer("/content/application~1json/schema")
                .map(schema_link)
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{schema}</td><td>{}</td></tr>",
                esc(status),
                text(r.get("description")),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</details>");
}

/// Renders the whole document.
fn render(doc: &Value) -> String {
    let title = text(doc.pointer("/info/title"));
    let mut by_tag: BTreeMap<String, Vec<(&str, &str, &Value)>> = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    let tag = op
                        .pointer("/tags/0")
                        .and_then(Value::as_str)
                        .unwrap_or("other")
                        .to_owned();
                    by_tag.entry(tag).or_default().push((method, path, op));
                }
            }
        }
    }
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} API</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
<h1>{title} API <small>{}</small></h1><p>{}</p>\
<p>The machine-readable document is <a href=\"/openapi.json\"><code>/openapi.json</code></a> (OpenAPI {}). \
Every route but the operator routes needs <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key: &lt;key&gt;</code>.</p><nav>",
        text(doc.pointer("/info/version")),
        text(doc.pointer("/info/description")),
        text(doc.get("openapi")),
    );
    for tag in by_tag.keys() {
        let _ = write!(out, "<a href=\"#tag-{}\">{}</a>", anchor(tag), esc(tag));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></nav>");
    for (tag, ops) in &by_tag {
        let _ = write!(out, "<h2 id=\"tag-{}\">{}</h2>", anchor(tag), esc(tag));
        for (method, path, op) in ops {
            render_operation(&mut out, method, path, op);
        }
    }
    out.push_str("<h2 id=\"schemas\">schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                out,
                "<details id=\"schema-{}\"><summary><code>{}</code> {}</summary><pre>{}</pre></details>",
                anchor(name),
                esc(name),
                text(schema.get("description")),
                esc(&pretty),
            );
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_it_renders() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let doc = serde_json::json!({
            "info": {"title": "<t>"},
            "paths": {"/x/{id}": {"get": {"operationId": "get-x", "tags": ["x"],
                "summary": "<script>", "responses": {"200": {"description": "ok"}}}}}
        });
        let html = render(&doc);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("/x/{id}"));
    }
}
