//! Request extractors that fail in orgiam's error shape: JSON bodies (400 for malformed or
//! mistyped JSON, naming the field; 413 over the limit; never axum's default 422) and query
//! strings with the SDK's bracket arrays (`emails[]=a&emails[]=b`, `effective_at[gte]=1`).

use std::collections::HashMap;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use orgiam_core::Error;
use orgiam_core::page::{LimitBounds, Order, PageRequest};
use orgiam_core::validate::quote;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body a route accepts, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON body deserialized into `T`; unknown fields are ignored.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(Error::payload_too_large(limit).into());
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| Error::payload_too_large(limit))?;
        parse_json(&bytes).map(Body).map_err(ApiError)
    }
}

/// Parses a JSON body, treating an empty body as `{}`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid_code(
            "invalid_json",
            "body",
            format!("the body is not valid UTF-8: {e}"),
        )
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                Error::invalid_code("invalid_body", "body", "the body must be a JSON object")
            } else {
                Error::invalid_code("invalid_json", "body", "the body is not valid JSON")
            },
        );
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde may stop at a missing field before it reaches a syntax error further on
        if !(inner.is_syntax() || inner.is_eof())
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
        {
            return Error::invalid_code("invalid_json", "body", "the body is not valid JSON");
        }
        if inner.is_syntax() || inner.is_eof() {
            Error::invalid_code(
                "invalid_json",
                "body",
                format!("the body is not valid JSON: {inner}"),
            )
        } else if let Some(field) = missing_field(&inner.to_string()) {
            // serde reports a missing field at the object that lacks it: name the field itself
            let param = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            Error::invalid(param.clone(), format!("{param} is required"))
        } else if path == "." {
            Error::invalid_code("invalid_body", "body", format!("invalid body: {inner}"))
        } else {
            Error::invalid(path.clone(), format!("{path}: {inner}"))
        }
    })?;
    // nothing but whitespace may follow the object
    de.end().map_err(|e| {
        Error::invalid_code(
            "invalid_json",
            "body",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

/// Checks that the path and the query string percent-decode to UTF-8 without NUL bytes, so
/// that no extractor (ours, axum's or a dialect's) meets them: 400 naming `path` or `query`.
pub fn check_uri(uri: &axum::http::Uri) -> Result<(), Error> {
    if !decodes_cleanly(uri.path()) {
        return Err(Error::invalid_code(
            "invalid_path",
            "path",
            format!(
                "the path '{}' is not valid UTF-8 once decoded, or holds a NUL byte",
                quote(uri.path())
            ),
        ));
    }
    let Some(query) = uri.query().filter(|q| !decodes_cleanly(q)) else {
        return Ok(());
    };
    // name the parameter whose value is broken (or the query string, for a broken name)
    let param = query
        .split('&')
        .find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !decodes_cleanly(k) {
                Some("query".to_owned())
            } else if !decodes_cleanly(v) {
                let (k, _) = form_urlencoded::parse(pair.as_bytes()).next()?;
                Some(k.strip_suffix("[]").unwrap_or(&k).to_owned())
            } else {
                None
            }
        })
        .unwrap_or_else(|| "query".to_owned());
    Err(Error::invalid_code(
        "invalid_query",
        param.clone(),
        format!("{param}: the value is not valid UTF-8 once decoded, or holds a NUL byte"),
    ))
}

/// Whether `s` percent-decodes to UTF-8 without NUL (a raw URI is ASCII, so only escapes
/// can break it).
fn decodes_cleanly(s: &str) -> bool {
    if !s.contains('%') {
        return true;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    !out.contains(&0) && std::str::from_utf8(&out).is_ok()
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// The raw query string as a multimap; `name[]` keys are stored under `name`.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Params {
    /// Parses a raw query string (percent-decoding, `+` as space, invalid UTF-8 replaced).
    pub fn parse(query: &str) -> Params {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let key = k.strip_suffix("[]").unwrap_or(&k).to_owned();
            map.entry(key).or_default().push(v.into_owned());
        }
        Params(map)
    }

    /// The single value of `name`, if given.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value of `name` (`name[]=a&name[]=b` or `name=a`).
    pub fn many(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// An integer parameter, 400 naming it if it is not one.
    pub fn int(&self, name: &str) -> Result<Option<i64>, Error> {
        self.one(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    Error::invalid(
                        name,
                        format!("{name} must be an integer, not '{}'", quote(v)),
                    )
                })
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`), 400 naming it otherwise.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.one(name) {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(v) => Err(Error::invalid(
                name,
                format!("{name} must be 'true' or 'false', not '{}'", quote(v)),
            )),
        }
    }

    /// The page request: `limit` within `bounds`, `after` checked by `cursor`, `order` if the
    /// resource has one. These lists page forwards only (the SDK has no `before` for them):
    /// a `before` is a 400 rather than silently the first page.
    pub fn page<T>(
        &self,
        bounds: LimitBounds,
        default_order: Option<Order>,
        cursor: impl Fn(&str) -> Option<T> + Copy,
    ) -> Result<PageRequest, Error> {
        self.forwards_only()?;
        self.page_both_ways(bounds, default_order, cursor)
    }

    /// A list that pages forwards only refuses `before` with a 400, rather than answering
    /// the first page as if it were the page before the cursor.
    pub fn forwards_only(&self) -> Result<(), Error> {
        match self.one("before") {
            Some(_) => Err(Error::invalid_code(
                "unsupported_parameter",
                "before",
                "this list does not take 'before': page forwards with 'after' (and 'order' where the list has one)",
            )),
            None => Ok(()),
        }
    }

    /// [`Params::page`] for a list that also pages backwards: `before` checked by `cursor`.
    pub fn page_both_ways<T>(
        &self,
        bounds: LimitBounds,
        default_order: Option<Order>,
        cursor: impl Fn(&str) -> Option<T> + Copy,
    ) -> Result<PageRequest, Error> {
        let limit = bounds.check(self.int("limit")?)?;
        let order = match default_order {
            Some(d) => Order::parse(self.one("order"), d)?,
            None => Order::Asc,
        };
        Ok(PageRequest {
            limit,
            after: PageRequest::cursor("after", self.one("after"), cursor)?,
            before: PageRequest::cursor("before", self.one("before"), cursor)?,
            order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{decodes_cleanly, missing_field};

    #[test]
    fn percent_escapes_must_decode_to_utf8_without_nul() {
        assert!(decodes_cleanly("/v1/organization/roles"));
        assert!(decodes_cleanly("/v1/x/%C3%A9%20ok"));
        assert!(decodes_cleanly("a=%zz&b=100%"));
        assert!(!decodes_cleanly("/v1/%FF%FE"));
        assert!(!decodes_cleanly("/v1/a%00b"));
        assert!(!decodes_cleanly("/v1/%C3%28"));
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            missing_field("missing field `role_name` at line 1 column 2"),
            Some("role_name")
        );
        assert_eq!(missing_field("invalid type: integer"), None);
    }
}
