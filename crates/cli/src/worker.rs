//! `tvault worker`: a long-running SQS consumer ([`tvault_router::worker`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tvault_aws::Queue;
use tvault_router::{Router, Settings, http, telemetry, worker};

use crate::EXIT_OK;
use crate::cli::WorkerArgs;

pub async fn run(vault_location: &str, args: WorkerArgs) -> Result<u8> {
    // The recorder first: the router registers its counters at zero when
    // it is built, so a scrape before the first record shows them all.
    let registry = match args.metrics_addr {
        Some(_) => Some(
            telemetry::registry::install().context("a metrics recorder is already installed")?,
        ),
        None => None,
    };
    let config = tvault_aws::sdk_config().await;
    // The router reads the settings secret itself, and keeps it to re-read
    // after a refused credential.
    let settings = Settings::from_env().with_vault(vault_location);
    let router = Arc::new(
        Router::load(settings, Some(&config))
            .await
            .context("configuration")?,
    );
    let queue = Queue::new(&config, &args.queue_url);
    if let (Some(addr), Some(registry)) = (args.metrics_addr, registry) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--metrics-addr {addr}: cannot listen"))?;
        let ops = http::Ops::new(router.clone(), queue.clone(), registry);
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
        // Ends with the process: the worker's return is the end of main.
        tokio::spawn(http::serve(listener, ops));
    }
    let options = worker::Options {
        concurrency: usize::from(args.concurrency),
        visibility: Duration::from_secs(u64::from(args.visibility)),
        record_timeout: Duration::from_secs(u64::from(args.record_timeout)),
        grace: Duration::from_secs(args.grace),
        until_empty: args.until_empty,
        seal_at: args.seal_at,
    };
    let totals = worker::run(router, queue, options, wait_for_signal()).await;
    println!("worker stopped: {totals}");
    Ok(EXIT_OK)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
