//! The HTTP client deliveries go out through, and what it refuses to reach.
//!
//! Guarantees, unless the server runs with `--webhooks-allow-private`:
//! - only `https://` URLs;
//! - only public addresses: a host is resolved here, by the client's own resolver, and every
//!   address that is loopback, private, link-local, shared (CGNAT), multicast, unspecified,
//!   reserved or documentation-only is dropped, so a name cannot point a delivery at the
//!   server's own network (also when the name changes between creation and delivery); an
//!   address literal in the URL is checked the same way before each attempt.
//!
//! Always: redirects are not followed (a 3xx is a failed attempt), an attempt ends after 10 s,
//! and at most the first KiB of a response body is read and kept.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orgiam_core::{Error, Result};
use orgiam_store::AttemptResult;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a response body is kept.
pub const RESPONSE_BODY_LIMIT: usize = 1024;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: an IPv4 address inside
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240) // reserved
}

/// Checks an endpoint URL against the policy without resolving it: a URL that parses,
/// `https` (or `http` when private targets are allowed), a host, and no credentials; an
/// address literal must be public unless allowed.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url> {
    let invalid = |m: String| Error::invalid_code("invalid_webhook_url", "url", m);
    let shown = orgiam_core::validate::quote(url);
    if url.len() > 2048 {
        return Err(invalid("url must be at most 2048 characters".into()));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid(format!("url '{shown}' is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        s => {
            return Err(invalid(format!(
                "url '{shown}' must use https, not '{}'",
                orgiam_core::validate::quote(s)
            )));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(format!("url '{shown}' must not carry credentials")));
    }
    let Some(host) = parsed.host() else {
        return Err(invalid(format!("url '{shown}' has no host")));
    };
    if !allow_private {
        let literal = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(d)
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            url::Host::Domain(_) => None,
        };
        if literal.is_some_and(|ip| !is_public(ip)) {
            return Err(invalid(format!(
                "url '{shown}' points at a private, loopback or reserved address; the server \
                 delivers only to public addresses"
            )));
        }
    }
    Ok(parsed)
}

/// Resolves `url`'s host and refuses it if it has addresses but none public (name lookups
/// that fail are left to delivery time). For creates and updates.
pub async fn check_resolves_public(url: &reqwest::Url, allow_private: bool) -> Result<()> {
    if allow_private {
        return Ok(());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let Ok(addrs) = tokio::net::lookup_host((host, 443)).await else {
        return Ok(());
    };
    let addrs: Vec<SocketAddr> = addrs.collect();
    if !addrs.is_empty() && !addrs.iter().any(|a| is_public(a.ip())) {
        return Err(Error::invalid_code(
            "invalid_webhook_url",
            "url",
            format!(
                "url '{}' resolves only to private, loopback or reserved addresses; the server \
                 delivers only to public addresses",
                orgiam_core::validate::quote(url.as_str())
            ),
        ));
    }
    Ok(())
}

/// The client's resolver: the system's, minus every non-public address unless allowed.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "{} has no public address (private targets are not allowed)",
                    name.as_str()
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// A client under the policy above.
    pub fn new(allow_private: bool) -> Result<Sender> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .user_agent(concat!("orgiam-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("webhook client: {e}")))?;
        Ok(Sender {
            client,
            allow_private,
        })
    }

    /// POSTs `body` to `url` with `headers`; never fails, the outcome is in the result.
    pub async fn send(&self, url: &str, headers: &[(&str, String)], body: String) -> AttemptResult {
        let started = Instant::now();
        let failed = |error: String| AttemptResult {
            status: None,
            latency_ms: started.elapsed().as_millis() as i64,
            body: None,
            error: Some(error),
        };
        if let Err(e) = check_url(url, self.allow_private) {
            return failed(e.message);
        }
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let mut res = match req.send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = res.status().as_u16();
        let mut kept: Vec<u8> = Vec::new();
        let mut error = None;
        while kept.len() < RESPONSE_BODY_LIMIT {
            match res.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        kept.truncate(RESPONSE_BODY_LIMIT);
        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if text.len() > RESPONSE_BODY_LIMIT {
            let mut cut = RESPONSE_BODY_LIMIT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        if (300..400).contains(&status) && error.is_none() {
            error = Some(format!("redirect ({status}) not followed"));
        }
        AttemptResult {
            status: Some(status),
            latency_ms: started.elapsed().as_millis() as i64,
            body: Some(text),
            error,
        }
    }
}

/// A failed request's cause, with the chain of sources (the resolver's refusal is one).
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    /// A name that resolves to loopback is refused by the client's own resolver at delivery
    /// (a URL accepted earlier, whose name changed since, gets no further): no connection is
    /// made to the listener behind it.
    #[tokio::test]
    async fn deliveries_never_connect_to_a_private_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let strict = Sender::new(false).unwrap();
        for url in [
            format!("https://localhost:{port}/hook"),
            format!("http://127.0.0.1:{port}/hook"),
            format!("https://127.0.0.1:{port}/hook"),
        ] {
            let r = strict.send(&url, &[], "{}".into()).await;
            assert!(r.status.is_none() && r.error.is_some(), "{url}: {r:?}");
        }
        let resolved = PublicOnly {
            allow_private: false,
        }
        .resolve("localhost".parse().unwrap())
        .await;
        assert!(resolved.is_err());
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            accepted.is_err(),
            "a connection reached the private listener"
        );
        // allowed, the same listener is reached
        let open = Sender::new(true).unwrap();
        let sent = tokio::spawn(async move {
            open.send(&format!("http://127.0.0.1:{port}/hook"), &[], "{}".into())
                .await
        });
        assert!(listener.accept().await.is_ok());
        sent.abort();
    }

    #[test]
    fn url_policy() {
        assert!(check_url("https://example.com/hook", false).is_ok());
        assert!(check_url("http://example.com/hook", false).is_err());
        assert!(check_url("https://127.0.0.1/hook", false).is_err());
        assert!(check_url("https://[::1]/hook", false).is_err());
        assert!(check_url("https://localhost/hook", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("http://127.0.0.1:9/hook", true).is_ok());
    }
}
