//! Traces over OpenTelemetry. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! the spans of `serve` and `relay` (each request, push, pull, ingest, the
//! relay's forward) are exported over OTLP/HTTP (protobuf) to
//! `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`; otherwise nothing is exported
//! and nothing is paid for. The relay sends W3C trace context
//! (`traceparent`) with each forward, and the cloud continues it, so one
//! push is one trace through both. The request id (`x-request-id`, also in
//! every log line of the request) is an attribute of the request's span:
//! logs and traces join on it.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The environment variable that turns export on.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Flushes the exporter when dropped (at the end of `main`).
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
    }
}

/// The OpenTelemetry layer for the subscriber, when export is on; and the
/// guard that flushes it. `service` names the process (`sentra-sync` or
/// `sentra-relay`).
pub fn layer<S>(
    service: &'static str,
) -> (
    Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>,
    Guard,
)
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let on = std::env::var(ENDPOINT_VAR).is_ok_and(|v| !v.trim().is_empty());
    if !on {
        return (None, Guard(None));
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tracing export off: cannot build the OTLP exporter: {e}");
            return (None, Guard(None));
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer(service);
    (
        Some(tracing_opentelemetry::layer().with_tracer(tracer)),
        Guard(Some(provider)),
    )
}

/// The request id a request carries (`x-request-id`, set by the server
/// when the caller sent none).
fn request_id(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(crate::http::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// The span of a push's ingest, a child of the request's span. It repeats
/// the request id because a log line names its innermost span: a line
/// logged while ingesting still carries `span.request_id`.
pub fn ingest_span(headers: &axum::http::HeaderMap, entries: usize) -> tracing::Span {
    tracing::info_span!("ingest", request_id = %request_id(headers), entries)
}

/// The span of a pull's read of the change log (as [`ingest_span`]).
pub fn pull_span(headers: &axum::http::HeaderMap, limit: u32) -> tracing::Span {
    tracing::info_span!("pull", request_id = %request_id(headers), limit)
}

/// Continues the trace a caller sent (`traceparent`) in `span`.
pub fn continue_from(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
}

/// The current span's trace context as headers for an outgoing request.
pub fn outgoing() -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeadersMut(&mut headers));
    });
    headers
}

struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut axum::http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(key.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
