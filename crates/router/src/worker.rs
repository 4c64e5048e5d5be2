//! The long-running SQS consumer behind `tvault worker` (ECS, Kubernetes, a
//! VM): the same [`Router`] as the Lambda, with a receive loop, a heartbeat
//! per message, and a graceful stop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};
use tvault_aws::{Queue, Received};
use tvault_core::ports::Deadline;

use crate::metrics::Totals;
use crate::record::Record;
use crate::router::Router;

/// How the worker receives and when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Messages archived at the same time (at least 1).
    pub concurrency: usize,
    /// How long a received message stays hidden; extended while in progress.
    pub visibility: Duration,
    /// How long one message's archive may take before it is given up (and
    /// returns through the queue). The heartbeat keeps the message hidden
    /// all that time, so it may exceed `visibility` (a large attachment).
    pub record_timeout: Duration,
    /// How long in-flight messages may take to finish once a stop is asked for.
    pub grace: Duration,
    /// Stop once a receive finds the queue empty and nothing is in flight.
    pub until_empty: bool,
}

/// In-flight messages by id, with their receipt handles, to release on shutdown.
type InFlight = Arc<Mutex<HashMap<String, String>>>;

/// Consume `queue` until `stop` completes (SIGTERM, SIGINT), or until the
/// queue is empty with `until_empty`. Each message is deleted only once its
/// archive is durable; in-flight messages get `grace` to finish, and the rest
/// are released to the queue at once. Returns what the router counted.
pub async fn run(
    router: Arc<Router>,
    queue: Queue,
    options: Options,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Totals {
    let (stop_tx, mut stopped) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        info!("stop requested: no more receives; finishing in-flight messages");
        let _ = stop_tx.send(true);
    });

    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    let visibility_secs = i32::try_from(options.visibility.as_secs()).unwrap_or(i32::MAX);
    info!(queue = %queue.url(), concurrency = options.concurrency, "worker started");
    'receiving: loop {
        if *stopped.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits().min(10);
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        // Long polls (20 s) in service; short ones when draining, so the
        // drain ends soon after the queue does.
        let wait = if options.until_empty { 1 } else { 20 };
        // `free` is at most 10, SQS's largest batch.
        let received = tokio::select! {
            r = queue.receive(free as i32, wait, visibility_secs) => r,
            _ = stopped.changed() => continue,
        };
        let batch = match received {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "receive failed; trying again shortly");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if batch.is_empty() && options.until_empty && tasks.is_empty() {
            info!("queue empty and nothing in flight");
            break;
        }
        for m in batch {
            // The semaphore is never closed (this loop owns it); if it were,
            // the message would return after its visibility timeout.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                error!("the worker's permits are gone; stopping");
                break 'receiving;
            };
            // The table holds plain strings: one a panic left half-written is
            // still usable, so a poisoned lock is taken over.
            in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(m.message_id.clone(), m.receipt_handle.clone());
            let (router, queue, in_flight) = (router.clone(), queue.clone(), in_flight.clone());
            let (visibility, record_timeout) = (options.visibility, options.record_timeout);
            tasks.spawn(async move {
                process(&router, &queue, &m, visibility, record_timeout).await;
                in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&m.message_id);
                drop(permit);
            });
        }
    }

    let started = Instant::now();
    while !tasks.is_empty() && started.elapsed() < options.grace {
        let _ = tokio::time::timeout(
            options.grace.saturating_sub(started.elapsed()),
            tasks.join_next(),
        )
        .await;
    }
    tasks.abort_all();
    let unfinished: Vec<(String, String)> = in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
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
    router.totals()
}

/// Archive one message with a heartbeat; delete it only once durable. The
/// archive runs on a task of its own ([`Router::process`]): a panic in it
/// fails this message only, which then returns after its visibility
/// timeout. A failed message is hidden for the router's requeue delay, or
/// released at once when it is invalid (so poison reaches the DLQ in seconds).
async fn process(
    router: &Arc<Router>,
    queue: &Queue,
    m: &Received,
    visibility: Duration,
    record_timeout: Duration,
) {
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
    let record = Record {
        message_id: m.message_id.clone(),
        body: m.body.clone(),
        receive_count: m.receive_count,
        // A sent time before the epoch is not a time: no age for it.
        sent_at_ms: m.sent_at_ms.and_then(|s| u64::try_from(s).ok()),
    };
    // The heartbeat keeps the message hidden for as long as the archive
    // runs, so the record's deadline is its own timeout, not the visibility
    // period: a deadline of 3/4 of the visibility would make every Azure
    // request of a longer archive fail at once, again on every try.
    let until = Instant::now() + record_timeout;
    let handled = tokio::select! {
        h = router.process(&record, Deadline::at(until), Some(until)) => h,
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
                .map(|m| process(&router, &q.source, m, visibility, visibility)),
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
