//! The relay's HTTP client to the cloud: enroll, push, pull, device list.

use std::time::Duration;

use reqwest::StatusCode;
use sentra_protocol::wire::{
    EnrollRequest, EnrollResponse, ErrorBody, PROTOCOL_HEADER, PROTOCOL_VERSION, PullResponse,
    PushRequest, PushResponse, RelayDevicesResponse, StockPage,
};
use serde::de::DeserializeOwned;

/// Why an exchange with the cloud failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer: connection refused, reset, timed out. The uplink is down.
    #[error("the cloud is unreachable: {0}")]
    Unreachable(String),
    /// The cloud answered with an error body.
    #[error("the cloud refused ({status}): {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
        retryable: bool,
        /// The cloud's `Retry-After` (whole seconds), when it sent one.
        retry_after: Option<u64>,
    },
}

impl UpstreamError {
    /// Whether the link itself is down (as opposed to the cloud refusing).
    pub fn is_link_down(&self) -> bool {
        match self {
            UpstreamError::Unreachable(_) => true,
            UpstreamError::Refused { status, .. } => *status >= 500,
        }
    }

    /// Whether the cloud refused a request as malformed (`400
    /// malformed_request`): for a pull, a cursor it cannot continue from.
    pub fn refuses_cursor(&self) -> bool {
        matches!(
            self,
            UpstreamError::Refused { status: 400, code, .. } if code == "malformed_request"
        )
    }

    /// How long the cloud asked to be left alone (`Retry-After` of a `429
    /// busy` or a `503`), at most 5 minutes.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::Refused {
                retry_after: Some(s),
                ..
            } => Some(Duration::from_secs((*s).min(300))),
            _ => None,
        }
    }

    /// Whether the cloud refuses the relay itself (401 or 403).
    pub fn refuses_caller(&self) -> bool {
        matches!(
            self,
            UpstreamError::Refused {
                status: 401 | 403,
                ..
            }
        )
    }
}

#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

impl Upstream {
    pub fn new(base: &str, credential: Option<String>, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            // The cloud (and a balancer in front of it) closes idle
            // connections, ours after 10 s: never reuse one that may be
            // closing as a push goes out.
            .pool_idle_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()?;
        Ok(Upstream {
            http,
            base: base.trim_end_matches('/').to_owned(),
            credential,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}/v1{path}", self.base))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
        if let Some(c) = &self.credential {
            r = r.bearer_auth(c);
        }
        r
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, UpstreamError> {
        let resp = req
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
        if status == StatusCode::OK {
            return serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Refused {
                status: status.as_u16(),
                code: "bad_response".into(),
                message: format!("the answer is not the expected JSON: {e}"),
                retryable: true,
                retry_after: None,
            });
        }
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(match body {
            Some(b) => UpstreamError::Refused {
                status: status.as_u16(),
                code: b.error,
                message: b.message,
                retryable: b.retryable,
                retry_after,
            },
            None => UpstreamError::Refused {
                status: status.as_u16(),
                code: "http_error".into(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
                retry_after,
            },
        })
    }

    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, UpstreamError> {
        self.send(self.request(reqwest::Method::POST, "/enroll").json(req))
            .await
    }

    /// `POST /v1/push` with `request_id` as its `x-request-id` and the
    /// current trace's context (`traceparent`), so the cloud's logs and
    /// spans of it join the relay's.
    pub async fn push(
        &self,
        req: &PushRequest,
        request_id: &str,
    ) -> Result<PushResponse, UpstreamError> {
        self.send(
            self.request(reqwest::Method::POST, "/push")
                .headers(crate::telemetry::outgoing())
                .header("x-request-id", request_id)
                .json(req),
        )
        .await
    }

    pub async fn pull(&self, cursor: &str, limit: u32) -> Result<PullResponse, UpstreamError> {
        self.send(
            self.request(reqwest::Method::GET, "/pull")
                .query(&[("cursor", cursor), ("limit", &limit.to_string())]),
        )
        .await
    }

    /// The branch's stock levels as the cloud signed them (handed to the
    /// terminals unchanged).
    pub async fn stock(&self, cursor: &str, limit: &str) -> Result<StockPage, UpstreamError> {
        self.send(
            self.request(reqwest::Method::GET, "/stock")
                .query(&[("cursor", cursor), ("limit", limit)]),
        )
        .await
    }

    pub async fn devices(&self) -> Result<RelayDevicesResponse, UpstreamError> {
        self.send(self.request(reqwest::Method::GET, "/relay/devices"))
            .await
    }
}

/// The error and its causes in one line (reqwest's top-level message alone
/// says only "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
