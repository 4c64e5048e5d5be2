//! `tvault worker`: a long-running SQS consumer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};
use tvault_aws::{Queue, Received};
use tvault_core::ports::Deadline;
use tvault_router::{Router, Settings};

use crate::EXIT_OK;
use crate::cli::WorkerArgs;

/// In-flight messages by id, with their receipt handles, to release on shutdown.
type InFlight = Arc<Mutex<HashMap<String, String>>>;

pub async fn run(vault_location: &str, args: WorkerArgs) -> Result<u8> {
    let config = tvault_aws::sdk_config().await;
    let settings = Settings {
        vault: vault_location.to_string(),
        ..Settings::from_env()
    };
    let router = Arc::new(
        Router::load(settings, Some(&config))
            .await
            .context("configuration")?,
    );
    let queue = Queue::new(&config, &args.queue_url);
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("stop requested: no more receives; finishing in-flight messages");
        let _ = stop_tx.send(true);
    });

    let permits = Arc::new(Semaphore::new(args.concurrency as usize));
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    let visibility = Duration::from_secs(args.visibility as u64);
    info!(queue = %args.queue_url, concurrency = args.concurrency, "worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits().min(10);
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // Long polls (20 s) in service; short ones when draining, so the
        // drain ends soon after the queue does.
        let wait = if args.until_empty { 1 } else { 20 };
        let received = tokio::select! {
            r = queue.receive(free as i32, wait, args.visibility as i32) => r,
            _ = stop.changed() => continue,
        };
        let batch = match received {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "receive failed; trying again shortly");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if batch.is_empty() && args.until_empty && tasks.is_empty() {
            info!("queue empty and nothing in flight");
            break;
        }
        for m in batch {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .context("semaphore closed")?;
            in_flight
                .lock()
                .map_err(|_| anyhow::anyhow!("lock poisoned"))?
                .insert(m.message_id.clone(), m.receipt_handle.clone());
            let (router, queue, in_flight) = (router.clone(), queue.clone(), in_flight.clone());
            tasks.spawn(async move {
                process(&router, &queue, &m, visibility).await;
                if let Ok(mut f) = in_flight.lock() {
                    f.remove(&m.message_id);
                }
                drop(permit);
            });
        }
    }

    let grace = Duration::from_secs(args.grace);
    let started = Instant::now();
    while !tasks.is_empty() && started.elapsed() < grace {
        let _ =
            tokio::time::timeout(grace.saturating_sub(started.elapsed()), tasks.join_next()).await;
    }
    tasks.abort_all();
    let unfinished: Vec<(String, String)> = in_flight
        .lock()
        .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for (id, receipt) in unfinished {
        // Visible again at once, so another worker takes it without waiting
        // out the visibility timeout. Anything it wrote is content-named.
        match queue.change_visibility(&receipt, Duration::ZERO).await {
            Ok(()) => info!(message_id = %id, "released unfinished message"),
            Err(e) => {
                warn!(message_id = %id, error = %e, "could not release; it returns after its visibility timeout")
            }
        }
    }
    let m = &router.metrics;
    let g = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "worker stopped: archived {}, already in vault {}, skipped {}, not ready {}, failed {}",
        g(&m.archived),
        g(&m.already_in_vault),
        g(&m.skipped),
        g(&m.not_ready),
        g(&m.failed)
    );
    Ok(EXIT_OK)
}

/// Archive one message with a heartbeat; delete it only once durable. The
/// archive runs on a task of its own ([`Router::handle_isolated`]): a panic
/// in it fails this message only, which then returns after its visibility
/// timeout. A failed message is hidden for the router's requeue delay, or
/// released at once when it is invalid (so poison reaches the DLQ in seconds).
async fn process(router: &Arc<Router>, queue: &Queue, m: &Received, visibility: Duration) {
    if let Some(sent) = m.sent_at_ms {
        let now = chrono_now_ms();
        router
            .metrics
            .saw_age_ms(now.saturating_sub(sent).max(0) as u64);
    }
    let heartbeat = async {
        let mut tick = tokio::time::interval(visibility / 2);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = queue.change_visibility(&m.receipt_handle, visibility).await {
                warn!(message_id = %m.message_id, error = %e, "heartbeat failed");
            }
        }
    };
    // A record may use most of one visibility period before it must yield.
    let deadline = Deadline::at(Instant::now() + visibility.saturating_sub(visibility / 4));
    let handled = tokio::select! {
        h = router.handle_isolated(&m.message_id, &m.body, m.receive_count, deadline) => h,
        _ = heartbeat => unreachable!("the heartbeat loop never ends"),
    };
    if handled.is_done() {
        if let Err(e) = queue.delete(&m.receipt_handle).await {
            // Archived but not deleted: the redelivery will find it already in the vault.
            warn!(message_id = %m.message_id, error = %e, "delete failed after a durable archive");
        }
    } else if let Some(delay) = handled.requeue_after
        && let Err(e) = queue.change_visibility(&m.receipt_handle, delay).await
    {
        warn!(message_id = %m.message_id, error = %e, "could not delay the failed message");
    }
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use tvault_core::Archiver;
    use tvault_core::ports::SystemClock;
    use tvault_testkit::panic::{PanickingSource, transcript_event};
    use tvault_testkit::pipeline;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_message_fails_alone_and_stays_queued() {
        let Some((_, config)) = pipeline::moto().await else {
            return;
        };
        let q = pipeline::queues(&config, 5, 30).await;
        let boom = pipeline::customer_end("boom-8d3f4c1e");
        q.source.send(&boom).await.unwrap();
        q.source
            .send(&transcript_event("calm-8d3f4c1e"))
            .await
            .unwrap();
        let vault = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(
            vault.clone(),
            Some(Arc::new(PanickingSource)),
            Arc::new(SystemClock),
        );
        let router = Arc::new(Router::from_parts(archiver, vault));
        let mut batch = Vec::new();
        for _ in 0..10 {
            batch.extend(q.source.receive(10, 1, 30).await.unwrap());
            if batch.len() == 2 {
                break;
            }
        }
        assert_eq!(batch.len(), 2);
        let visibility = Duration::from_secs(30);
        futures::future::join_all(
            batch
                .iter()
                .map(|m| process(&router, &q.source, m, visibility)),
        )
        .await;
        assert_eq!(router.metrics.failed.load(Relaxed), 1);
        assert_eq!(router.metrics.archived.load(Relaxed), 1);
        assert_eq!(
            q.source.depth().await.unwrap(),
            (0, 1),
            "the archived message is deleted; the one that panicked waits out its visibility"
        );
    }
}
