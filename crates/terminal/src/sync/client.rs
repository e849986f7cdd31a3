//! HTTP calls to an upstream (cloud or relay): every request carries the
//! protocol version and the bearer credential; every refusal is decoded into
//! the upstream's `ErrorBody` so its retry class drives what we do next.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode};
use sentra_protocol::wire::{
    EnrollRequest, EnrollResponse, ErrorBody, HeadResponse, PROTOCOL_HEADER, PROTOCOL_VERSION,
    PullResponse, StockPage, TrustResponse,
};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::UpstreamKind;

/// A relay or cloud that does not accept the TCP connection in this long is
/// treated as unreachable, so a round falls back quickly.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole request, body included (a 500-entry push, or a head that waits).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed.
#[derive(Clone, Debug)]
pub enum CallError {
    /// No answer: connection refused or cut, DNS, TLS, timeout.
    Unreachable(String),
    /// The upstream answered with an error status.
    Refused { status: u16, body: ErrorBody },
    /// A success status with a body we cannot read.
    BadResponse(String),
}

impl CallError {
    /// True when the same request may succeed later.
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Unreachable(_) => true,
            CallError::Refused { body, .. } => body.retryable,
            CallError::BadResponse(_) => false,
        }
    }

    /// Whether a relay should be treated as absent for this round: no
    /// answer, a server error, or a relay that does not know us yet.
    pub fn relay_unreachable(&self) -> bool {
        match self {
            CallError::Unreachable(_) => true,
            CallError::Refused { status, body } => {
                *status >= 500 || (*status == 401 && body.error == "unknown_to_relay")
            }
            CallError::BadResponse(_) => false,
        }
    }

    /// A stable code: the upstream's error code, or `unreachable` /
    /// `bad_response`.
    pub fn code(&self) -> String {
        match self {
            CallError::Unreachable(_) => "unreachable".to_owned(),
            CallError::Refused { body, .. } => body.error.clone(),
            CallError::BadResponse(_) => "bad_response".to_owned(),
        }
    }

    /// How long the upstream asked us to wait before trying again
    /// (`Retry-After` of a `429` or `503`), at most [`MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Refused { body, .. } => body
                .details
                .get(RETRY_AFTER_DETAIL)
                .and_then(serde_json::Value::as_u64)
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER)),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            CallError::Unreachable(detail) => format!("no answer: {detail}"),
            CallError::Refused { status, body } => {
                format!("{} ({}, HTTP {status})", body.message, body.error)
            }
            CallError::BadResponse(detail) => format!("unreadable answer: {detail}"),
        }
    }
}

/// The HTTP client every call uses.
pub fn http_client() -> Result<Client, String> {
    Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("sentra-term/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| describe(&e))
}

/// reqwest's own message ("error sending request") hides the cause; the
/// chain of sources says what actually happened (refused, timed out).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, CallError> {
    let resp = request
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .send()
        .await
        .map_err(|e| CallError::Unreachable(describe(&e)))?;
    let status = resp.status();
    let retry_after = retry_after_secs(resp.headers());
    // A body cut off mid-way is a broken link, not a refusal.
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| CallError::Unreachable(describe(&e)))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| CallError::BadResponse(e.to_string()));
    }
    let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
        // A proxy in front of the server (nginx, a load balancer) answers in
        // its own words; classify by status.
        let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        ErrorBody {
            error: format!("http_{}", status.as_u16()),
            message: if text.trim().is_empty() {
                status.to_string()
            } else {
                text.trim().to_owned()
            },
            retryable: status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT,
            details: Default::default(),
        }
    });
    let mut body = body;
    if let Some(secs) = retry_after {
        body.details
            .entry(RETRY_AFTER_DETAIL.to_owned())
            .or_insert(secs.into());
    }
    Err(CallError::Refused {
        status: status.as_u16(),
        body,
    })
}

/// Where [`send`] keeps a refusal's `Retry-After` (whole seconds) in its
/// error body.
pub const RETRY_AFTER_DETAIL: &str = "retry_after_secs";

/// The longest `Retry-After` honoured: a larger one (a misconfigured
/// proxy) must not silence a till for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// `Retry-After` as delta-seconds (the form our servers and proxies send;
/// an HTTP date is ignored and the usual backoff applies).
fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.min(MAX_RETRY_AFTER.as_secs()))
}

/// `POST /v1/enroll` (no credential yet).
pub async fn enroll(
    http: &Client,
    base: &str,
    request: &EnrollRequest,
) -> Result<EnrollResponse, CallError> {
    send(http.post(format!("{base}/v1/enroll")).json(request)).await
}

/// `POST /v1/trust` to the cloud itself, with the cloud credential.
pub async fn trust(
    http: &Client,
    base: &str,
    credential: &str,
) -> Result<TrustResponse, CallError> {
    send(
        http.post(format!("{base}/v1/trust"))
            .bearer_auth(credential)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}"),
    )
    .await
}

/// One upstream with this terminal's credential.
pub struct Upstream {
    pub kind: UpstreamKind,
    pub base: String,
    credential: Zeroizing<String>,
    http: Client,
}

impl Upstream {
    pub fn new(
        kind: UpstreamKind,
        base: String,
        credential: Zeroizing<String>,
        http: Client,
    ) -> Self {
        Upstream {
            kind,
            base,
            credential,
            http,
        }
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.credential.as_str())
    }

    /// `POST /v1/push` with a body already serialised (its size was checked).
    pub async fn push(
        &self,
        body: Vec<u8>,
    ) -> Result<sentra_protocol::wire::PushResponse, CallError> {
        send(
            self.http
                .post(format!("{}/v1/push", self.base))
                .bearer_auth(self.credential.as_str())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
        )
        .await
    }

    /// `GET /v1/head`: a relay waits up to `wait_ms` for the cloud to hold
    /// `wait_for`; the cloud answers at once.
    pub async fn head(&self, wait_for: u64, wait_ms: u64) -> Result<HeadResponse, CallError> {
        send(self.get(&format!("/v1/head?wait_for={wait_for}&wait_ms={wait_ms}"))).await
    }

    /// `GET /v1/receipt`: a sale of the branch with its voids and refunds.
    pub async fn receipt(
        &self,
        receipt_no: &str,
    ) -> Result<sentra_protocol::wire::ReceiptResponse, CallError> {
        send(self.get("/v1/receipt").query(&[("no", receipt_no)])).await
    }

    /// `GET /v1/stock`: the branch's stock levels changed since `cursor`.
    pub async fn stock(&self, cursor: &str) -> Result<StockPage, CallError> {
        send(self.get("/v1/stock").query(&[("cursor", cursor)])).await
    }

    /// `GET /v1/pull`.
    pub async fn pull(&self, cursor: &str, limit: u32) -> Result<PullResponse, CallError> {
        send(
            self.get("/v1/pull")
                .query(&[("cursor", cursor), ("limit", &limit.to_string())]),
        )
        .await
    }
}

/// An upstream URL as stored: `http` or `https`, a host, no query or
/// fragment, no trailing slash.
pub fn normalise_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).map_err(|e| {
        format!("{text:?} is not a URL ({e}); write it like https://sync.example.com")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?} uses {}://; only http:// and https:// are supported",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} must not carry a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{text:?} must not carry a user name or password (the terminal authenticates with its credential)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A server that answers every request with `head` and an error body.
    async fn answering(head: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = r#"{"error":"busy","message":"the server is busy","retryable":true}"#;
                let reply = format!(
                    "{head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    /// `Retry-After` of a `429` reaches the round (capped), an HTTP date
    /// does not (the usual backoff applies).
    #[test]
    fn retry_after_is_read_from_a_refusal_and_capped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = http_client().unwrap();
            let request = EnrollRequest {
                code: "X".into(),
                name: "T".into(),
                public_key: "00".into(),
                device_id: None,
            };
            for (head, want) in [
                ("HTTP/1.1 429 Too Many Requests\r\nretry-after: 2", Some(2)),
                (
                    "HTTP/1.1 503 Service Unavailable\r\nretry-after: 7",
                    Some(7),
                ),
                (
                    "HTTP/1.1 429 Too Many Requests\r\nretry-after: 86400",
                    Some(300),
                ),
                (
                    "HTTP/1.1 429 Too Many Requests\r\nretry-after: Wed, 21 Oct 2026 07:28:00 GMT",
                    None,
                ),
                ("HTTP/1.1 429 Too Many Requests", None),
            ] {
                let base = answering(head).await;
                let e = enroll(&http, &base, &request).await.unwrap_err();
                assert!(e.retryable(), "{head}");
                assert_eq!(e.code(), "busy");
                assert_eq!(e.retry_after(), want.map(Duration::from_secs), "{head}");
            }
        });
    }

    #[test]
    fn urls_are_checked_and_normalised() {
        assert_eq!(
            normalise_url(" https://sync.example.com/ ").unwrap(),
            "https://sync.example.com"
        );
        assert_eq!(
            normalise_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_url("https://example.com/sentra/").unwrap(),
            "https://example.com/sentra"
        );
        assert!(
            normalise_url("ftp://example.com")
                .unwrap_err()
                .contains("only http")
        );
        assert!(normalise_url("example.com").is_err());
        assert!(normalise_url("https://example.com/?a=1").is_err());
        assert!(normalise_url("https://u:p@example.com").is_err());
    }

    #[test]
    fn relay_fallback_classes() {
        let refused = |status, code: &str| CallError::Refused {
            status,
            body: ErrorBody {
                error: code.into(),
                message: String::new(),
                retryable: status >= 500,
                details: Default::default(),
            },
        };
        assert!(CallError::Unreachable("x".into()).relay_unreachable());
        assert!(refused(503, "unavailable").relay_unreachable());
        assert!(refused(401, "unknown_to_relay").relay_unreachable());
        assert!(!refused(401, "unauthorized").relay_unreachable());
        assert!(!refused(403, "device_revoked").retryable());
    }
}
