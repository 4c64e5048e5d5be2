//! `bootstrap`: the transcript-vault Lambda (provided.al2023).
//!
//! All wiring is here; the handler is in [`handler`]. Configuration comes from
//! the environment through [`tvault_router::Settings`] (the one reader of it):
//! `TVAULT_SECRET_ID` (the settings secret), `TVAULT_VAULT`, and optionally
//! `TVAULT_RECORD_CONCURRENCY` (records of a batch archived at once, default
//! 8). Clients, the secret and the Genesys token are built once per
//! container, not per record.

mod handler;

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = tvault_router::Settings::from_env();
    // Flat JSON lines (AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, RUST_LOG):
    // every line about a record carries request_id, message_id and
    // conversation_id at the top level, where Logs Insights filters.
    let logging = tvault_router::logs::LambdaLogging::from_settings(&settings);
    tvault_router::logs::init_lambda(&logging);
    // The process's metrics recorder, read once per invocation for its EMF
    // line. This is the first and only install, so it cannot find another.
    let registry = tvault_router::telemetry::registry::install()
        .ok_or("a metrics recorder was already installed")?;

    let config = tvault_aws::sdk_config().await;
    let router = tvault_router::Router::load(settings.clone(), Some(&config))
        .await
        .map_err(|e| {
            // The whole chain: the sentence, then what went wrong under it.
            let e = tvault_aws::error_text(&e);
            tracing::error!(error = %e, "cannot start: configuration");
            e
        })?;
    let app = Arc::new(handler::App::new(
        router,
        &config,
        &settings,
        registry,
        logging.metrics_level,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = app.clone();
        async move { app.handle(event).await }
    }))
    .await
}
