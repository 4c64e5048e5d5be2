//! `tvault worker`: a long-running SQS consumer ([`tvault_router::worker`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tvault_aws::Queue;
use tvault_router::{Router, Settings, worker};

use crate::EXIT_OK;
use crate::cli::WorkerArgs;

pub async fn run(vault_location: &str, args: WorkerArgs) -> Result<u8> {
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
    let options = worker::Options {
        concurrency: usize::from(args.concurrency),
        visibility: Duration::from_secs(u64::from(args.visibility)),
        record_timeout: Duration::from_secs(u64::from(args.record_timeout)),
        grace: Duration::from_secs(args.grace),
        until_empty: args.until_empty,
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
