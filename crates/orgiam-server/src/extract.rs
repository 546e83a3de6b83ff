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
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::invalid_code(
                "invalid_json",
                "body",
                format!("the body is not valid JSON: {inner}"),
            )
        } else if path == "." {
            Error::invalid_code("invalid_body", "body", format!("invalid body: {inner}"))
        } else {
            Error::invalid(path.clone(), format!("{path}: {inner}"))
        }
    })
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
    /// resource has one.
    pub fn page<T>(
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
