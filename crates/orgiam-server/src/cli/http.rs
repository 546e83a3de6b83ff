//! The client's one way to the server: JSON over the HTTP API with the key as a bearer token.
//! Errors carry the server's own message; lists follow their pages with `after`.

use std::io::IsTerminal as _;

use serde_json::Value;

/// A failed command: what to print and the exit code (1 unless the command says otherwise).
#[derive(Debug)]
pub struct Failure {
    /// Printed after `orgiam: ` on stderr.
    pub message: String,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
        }
    }
}

/// What a client command answers.
pub type Outcome<T> = Result<T, Failure>;

/// A connection to one server with one key.
pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base` (`http://host:port`) acting with `key`.
    pub fn new(base: &str, key: &str) -> Outcome<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("orgiam-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::new(format!("cannot start the HTTP client: {e}")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            http,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Outcome<Value> {
        let res = req.bearer_auth(&self.key).send().await.map_err(|e| {
            let mut m = format!("cannot reach {}: {e}", self.base);
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            Failure::new(m)
        })?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(body);
        }
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map_or_else(|| body.to_string(), str::to_owned);
        Err(Failure::new(format!(
            "{message} (HTTP {})",
            status.as_u16()
        )))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Outcome<Value> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Outcome<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Outcome<Value> {
        self.send(self.http.delete(self.url(path))).await
    }

    /// The items of a list: one page, or every page with `all` (`after` = the page's `next`
    /// or `last_id`). Progress goes to stderr when it is a terminal and more than one page
    /// is read.
    pub async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        all: bool,
    ) -> Outcome<Vec<Value>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        let progress = std::io::stderr().is_terminal();
        loop {
            let mut q = query.to_vec();
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let page = self.get(path, &q).await?;
            pages += 1;
            if let Some(data) = page.get("data").and_then(Value::as_array) {
                items.extend(data.iter().cloned());
            }
            let more = page
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let cursor = ["next", "last_id"]
                .iter()
                .find_map(|k| page.get(*k).and_then(Value::as_str).map(str::to_owned));
            match (all && more, cursor) {
                (true, Some(c)) if Some(&c) != after.as_ref() => after = Some(c),
                _ => break,
            }
            if progress {
                eprint!("\rorgiam: {} read ({pages} pages)…", items.len());
            }
        }
        if progress && pages > 1 {
            eprintln!();
        }
        Ok(items)
    }
}

/// Percent-encodes one path segment (a permission name, an id someone typed).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
