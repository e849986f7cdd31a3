//! Tracing (docs/operations.md, "What to watch"): with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, the relay and the cloud export their
//! spans over OTLP/HTTP, and one push is one trace through both — the
//! relay's forward, the cloud's request, its ingest — with the request id
//! the cloud logs it under. The collector here is an in-process OTLP/HTTP
//! receiver that decodes what it is sent with the OpenTelemetry protobuf
//! definitions.
//!
//! Build the binaries first: `cargo build --workspace --bins`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use sentra_e2e::{Cloud, Relay, Till, catalog_csv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One span as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: BTreeMap<String, String>,
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn spans_of(req: ExportTraceServiceRequest) -> Vec<Received> {
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|a| a.key == "service.name")
            .map(|a| text(&a.value))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Received {
                    service: service.clone(),
                    name: s.name.clone(),
                    trace_id: hex::encode(&s.trace_id),
                    span_id: hex::encode(&s.span_id),
                    parent_span_id: hex::encode(&s.parent_span_id),
                    attributes: s
                        .attributes
                        .iter()
                        .map(|a| (a.key.clone(), text(&a.value)))
                        .collect(),
                });
            }
        }
    }
    out
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with a protobuf
/// body, answered `200`; keeps every span.
async fn receiver() -> Result<(String, Arc<Mutex<Vec<Received>>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: the head, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 8192];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 8192];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
                    if head.starts_with("post /v1/traces")
                        && let Ok(req) = ExportTraceServiceRequest::decode(body.as_slice())
                        && let Ok(mut all) = kept.lock()
                    {
                        all.extend(spans_of(req));
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if sock.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((format!("http://{addr}"), spans))
}

#[test]
fn one_push_is_one_trace_through_relay_and_cloud_with_its_request_id() -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let (endpoint, spans) = rt.block_on(receiver())?;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        // Export within a fraction of a second, not the default 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let cloud = Cloud::start_with_env(&env)?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let relay = Relay::start_with_env(
        &cloud.url(),
        Some(&cloud.enroll_code("JKT01", "relay")?),
        &env,
    )?;
    let till = Till::ready("JKT01", "T01")?;
    till.enroll(
        &cloud.url(),
        &cloud.enroll_code("JKT01", "terminal")?,
        Some(&relay.url()),
    )?;
    till.sell(&["AQUA600"], &["cash:4000"])?;
    till.sync_until(0, Duration::from_secs(60))?;

    // The relay's forward, and in the same trace the cloud's request for
    // it (a child of the forward) and that request's ingest.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (forward, request, ingest) = loop {
        let got = spans.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        let found = got
            .iter()
            .filter(|s| s.service == "sentra-relay" && s.name == "relay.forward")
            .find_map(|f| {
                let request = got.iter().find(|s| {
                    s.service == "sentra-sync"
                        && s.name == "request"
                        && s.trace_id == f.trace_id
                        && s.parent_span_id == f.span_id
                })?;
                let ingest = got.iter().find(|s| {
                    s.service == "sentra-sync" && s.name == "ingest" && s.trace_id == f.trace_id
                })?;
                Some((f.clone(), request.clone(), ingest.clone()))
            });
        if let Some(f) = found {
            break f;
        }
        if Instant::now() > deadline {
            let names: Vec<String> = got
                .iter()
                .map(|s| format!("{}:{}", s.service, s.name))
                .collect();
            bail!("no trace through relay and cloud within 30 s; spans received: {names:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let id = forward
        .attributes
        .get("request_id")
        .context("the forward has no request_id")?;
    assert_eq!(
        request.attributes.get("request_id"),
        Some(id),
        "the cloud's request span carries the relay's request id"
    );
    assert_eq!(
        request.attributes.get("path").map(String::as_str),
        Some("/v1/push")
    );
    // The cloud ingested what the relay forwarded.
    assert_eq!(
        ingest.attributes.get("entries"),
        forward.attributes.get("entries")
    );
    // The same id is in the cloud's log of the request: logs and traces join.
    println!(
        "trace {}: relay.forward {} → request {} (request_id {id}) → ingest",
        forward.trace_id, forward.span_id, request.span_id
    );
    drop(relay);
    Ok(())
}
