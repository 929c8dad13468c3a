//! Logging: `RUST_LOG` filters, `LOG_FORMAT=json` for machines. With the `otlp` cargo feature, spans
//! are also exported over OTLP (HTTP/protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and a request carrying a W3C `traceparent` continues
//! its caller's trace.

use actix_web::dev::ServiceRequest;
use tracing::{Instrument, Span};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,sqlx::postgres::notice=warn";

/// Whether the environment asks for OTLP export.
fn otlp_requested() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// Installs the global subscriber once; later calls (tests start many apps) do nothing.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    #[cfg(feature = "otlp")]
    let (export, failure) = match otlp_requested().then(otlp::layer) {
        Some(Ok(layer)) => (Some(layer), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    #[cfg(not(feature = "otlp"))]
    let export: Option<tracing_subscriber::layer::Identity> = None;
    let installed = tracing_subscriber::registry().with(filter).with(fmt).with(export).try_init().is_ok();
    if !installed {
        return;
    }
    #[cfg(feature = "otlp")]
    match failure {
        Some(error) => tracing::error!(%error, "OTLP export is off: the exporter could not be built"),
        None if otlp::active() => tracing::info!("exporting traces over OTLP (HTTP/protobuf)"),
        None => {}
    }
    #[cfg(not(feature = "otlp"))]
    if otlp_requested() {
        tracing::warn!("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this binary was built without the `otlp` feature");
    }
}

/// Names a request's span for traces and, when its caller sent a `traceparent`, makes it part of the
/// caller's trace. Does nothing unless traces are exported.
pub fn join_trace(span: &Span, request: &ServiceRequest) {
    #[cfg(feature = "otlp")]
    otlp::join_trace(span, request);
    #[cfg(not(feature = "otlp"))]
    let _ = (span, request);
}

/// Runs `task` on the current worker inside `span`, so that every line it logs carries the span's fields.
pub fn spawn_in(span: Span, task: impl Future<Output = ()> + 'static) {
    actix_web::rt::spawn(task.instrument(span));
}

/// Sends the spans still buffered; call once, when the server has stopped.
pub fn shutdown() {
    #[cfg(feature = "otlp")]
    otlp::shutdown();
}

#[cfg(feature = "otlp")]
mod otlp {
    use std::sync::OnceLock;

    use actix_web::dev::ServiceRequest;
    use actix_web::http::header::HeaderMap;
    use opentelemetry::propagation::Extractor;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
    use tracing::Span;
    use tracing::Subscriber;
    use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
    use tracing_subscriber::registry::LookupSpan;

    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

    pub fn active() -> bool {
        PROVIDER.get().is_some()
    }

    /// The exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables itself (endpoint, headers,
    /// timeout); `OTEL_SERVICE_NAME` names the service, `messenger` when unset.
    pub fn layer<S>() -> anyhow::Result<OpenTelemetryLayer<S, Tracer>>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
        let mut resource = Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_err() {
            resource = resource.with_service_name("messenger");
        }
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
        let tracer = provider.tracer("messenger");
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let _ = PROVIDER.set(provider);
        Ok(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    struct Headers<'a>(&'a HeaderMap);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }

    pub fn join_trace(span: &Span, request: &ServiceRequest) {
        if !active() {
            return;
        }
        let route = request.match_pattern().unwrap_or_else(|| crate::metrics::http::UNMATCHED.to_owned());
        span.record("otel.name", format!("{} {route}", request.method()));
        span.record("otel.kind", "server");
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&Headers(request.headers()))
        });
        let _ = span.set_parent(parent);
    }

    pub fn shutdown() {
        if let Some(provider) = PROVIDER.get()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "flushing the last spans");
        }
    }
}
