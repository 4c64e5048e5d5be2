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
    // JSON logs with the current span's fields (message_id, conversation_id),
    // which CloudWatch Logs Insights can query.
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .init();

    let config = tvault_aws::sdk_config().await;
    let settings = tvault_router::Settings::from_env();
    let router = tvault_router::Router::load(settings.clone(), Some(&config))
        .await
        .map_err(|e| {
            // The whole chain: the sentence, then what went wrong under it.
            let e = tvault_aws::error_text(&e);
            tracing::error!(error = %e, "cannot start: configuration");
            e
        })?;
    let app = Arc::new(handler::App::new(router, &config, &settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = app.clone();
        async move { app.handle(event).await }
    }))
    .await
}
