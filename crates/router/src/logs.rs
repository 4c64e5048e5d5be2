//! The log subscriber of both binaries.
//!
//! JSON lines are flat objects: `timestamp` (RFC 3339), `level`, `message`,
//! `target`, then the fields of every span the line is in (outermost first:
//! the Lambda's `request_id`, the record's `message_id` and
//! `conversation_id`), then the event's own fields. tracing-subscriber's JSON
//! layer puts span fields under `span`/`spans`, and `lambda_runtime`'s
//! default subscriber uses it as is; CloudWatch Logs Insights would then need
//! `span.conversation_id`, and a line from a span nested inside the record's
//! (a Genesys call) would not carry the record's fields at all. Flat, every
//! line about a record answers `filter conversation_id = "…"`.
//!
//! Text lines have no colour codes unless they go to a terminal.

use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::Settings;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One flat JSON object per line.
    Json,
    /// Human-readable text (colours only on a terminal).
    Text,
}

/// The Lambda's logging, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaLogging {
    pub format: Format,
    /// The filter directives (`RUST_LOG`, else the Lambda log level).
    pub directives: String,
    /// Lambda's application log level (`AWS_LAMBDA_LOG_LEVEL`): lines below
    /// it would be dropped by Lambda, so they are not written at all.
    pub max_level: Option<LevelFilter>,
    /// The `level` of the metrics line: the lowest level Lambda keeps, and
    /// at least INFO, so the line is never filtered out.
    pub metrics_level: &'static str,
}

impl LambdaLogging {
    /// `AWS_LAMBDA_LOG_FORMAT` (`JSON` unless it says `Text`: the metrics
    /// line is JSON either way), `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`, as
    /// [`Settings`] read them.
    pub fn from_settings(s: &Settings) -> Self {
        let format = match s.lambda_log_format.as_deref() {
            Some(f) if f.trim().eq_ignore_ascii_case("text") => Format::Text,
            _ => Format::Json,
        };
        let level = s.lambda_log_level.as_deref().and_then(lambda_level);
        let metrics_level = match level {
            Some((_, name @ ("WARN" | "ERROR" | "FATAL"))) => name,
            _ => "INFO",
        };
        let directives = s.rust_log.clone().unwrap_or_else(|| {
            level
                .map_or("info", |(l, _)| level_directive(l))
                .to_string()
        });
        Self {
            format,
            directives,
            max_level: level.map(|(l, _)| l),
            metrics_level,
        }
    }
}

/// Lambda's level names (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), any case;
/// FATAL filters as ERROR (tracing has nothing above it).
fn lambda_level(name: &str) -> Option<(LevelFilter, &'static str)> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "TRACE" => (LevelFilter::TRACE, "TRACE"),
        "DEBUG" => (LevelFilter::DEBUG, "DEBUG"),
        "INFO" => (LevelFilter::INFO, "INFO"),
        "WARN" => (LevelFilter::WARN, "WARN"),
        "ERROR" => (LevelFilter::ERROR, "ERROR"),
        "FATAL" => (LevelFilter::ERROR, "FATAL"),
        _ => return None,
    })
}

fn level_directive(l: LevelFilter) -> &'static str {
    match l {
        LevelFilter::TRACE => "trace",
        LevelFilter::DEBUG => "debug",
        LevelFilter::INFO => "info",
        LevelFilter::WARN => "warn",
        LevelFilter::ERROR => "error",
        _ => "off",
    }
}

/// Install the Lambda's subscriber: lines to stdout, as Lambda reads them.
pub fn init_lambda(l: &LambdaLogging) {
    install(l.format, &l.directives, l.max_level, false, std::io::stdout);
}

/// Install the command line's subscriber: lines to stderr; `RUST_LOG`
/// overrides `default_directives`; colours only when stderr is a terminal.
pub fn init_cli(format: Format, default_directives: &str) {
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default_directives.to_string());
    let ansi = std::io::stderr().is_terminal();
    install(format, &directives, None, ansi, std::io::stderr);
}

fn install<W>(format: Format, directives: &str, max: Option<LevelFilter>, ansi: bool, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Directives that do not parse are dropped one by one (as EnvFilter
    // does with RUST_LOG), not a reason to log nothing.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives);
    let base = tracing_subscriber::registry().with(filter).with(max);
    // A second subscriber (a test that already set one) is not an error worth stopping for.
    let _ = match format {
        Format::Json => base
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(FlatJson)
                    .with_writer(writer),
            )
            .try_init(),
        Format::Text => base
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(ansi)
                    .with_writer(writer),
            )
            .try_init(),
    };
}

/// The flat JSON line (see the module's documentation). Span fields must be
/// formatted with [`JsonFields`], which this reads back.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert(
            "level".into(),
            Value::String(level_name(*meta.level()).into()),
        );
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(fields) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields.as_str()) {
                    line.extend(fields);
                }
            }
        }
        let mut own = Fields(Map::new());
        event.record(&mut own);
        line.extend(own.0);
        line.entry("message")
            .or_insert_with(|| Value::String(String::new()));
        line.insert("target".into(), Value::String(meta.target().into()));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// The names Lambda's log-level filter reads.
fn level_name(l: Level) -> &'static str {
    match l {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// An event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities are not JSON numbers: null then.
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `message` arrives as format arguments, whose Debug is the text itself.
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_lambda_log_level_filters_and_names_the_metrics_line() {
        let l = LambdaLogging::from_settings(&settings(&[]));
        assert_eq!(l.format, Format::Json);
        assert_eq!(
            (l.directives.as_str(), l.max_level, l.metrics_level),
            ("info", None, "INFO")
        );

        let l = LambdaLogging::from_settings(&settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "warn"),
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
        ]));
        assert_eq!(l.format, Format::Text);
        assert_eq!(l.directives, "warn");
        assert_eq!(
            (l.max_level, l.metrics_level),
            (Some(LevelFilter::WARN), "WARN")
        );

        // RUST_LOG gives finer control; Lambda's level still caps it.
        let l = LambdaLogging::from_settings(&settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "info,tvault_genesys=trace"),
        ]));
        assert_eq!(l.directives, "info,tvault_genesys=trace");
        assert_eq!(
            (l.max_level, l.metrics_level),
            (Some(LevelFilter::DEBUG), "INFO")
        );

        let l = LambdaLogging::from_settings(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]));
        assert_eq!(
            (l.max_level, l.metrics_level),
            (Some(LevelFilter::ERROR), "FATAL")
        );
        let l = LambdaLogging::from_settings(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]));
        assert_eq!((l.max_level, l.metrics_level), (None, "INFO"));
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_json_line_is_flat_with_the_fields_of_every_span_it_is_in() {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson)
                .with_writer(move || out.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let invocation = tracing::info_span!("invocation", request_id = "req-7");
            let _i = invocation.enter();
            let record = tracing::info_span!(
                "record",
                message_id = "m-1",
                conversation_id = tracing::field::Empty
            );
            let _r = record.enter();
            record.record("conversation_id", "c-1");
            let inner = tracing::info_span!("genesys_transcript", attempt = 2u64);
            let _g = inner.enter();
            tracing::warn!(
                status = 503u64,
                quote = "a \"b\"\n",
                "Genesys request failed; retrying"
            );
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "Genesys request failed; retrying");
        assert_eq!(v["request_id"], "req-7");
        assert_eq!(v["message_id"], "m-1");
        assert_eq!(v["conversation_id"], "c-1");
        assert_eq!(v["attempt"], 2);
        assert_eq!(v["status"], 503);
        assert_eq!(v["quote"], "a \"b\"\n");
        let ts = v["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }
}
