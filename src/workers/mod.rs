//! Background work that runs in every server process beside the request path: the TTL sweeper
//! ([`ttl`]) and the stream trimmer ([`streams`]).
//!
//! Each worker is a loop: do one pass, sleep for its interval, repeat. A pass that fails (most
//! often: PostgreSQL is restarting or unreachable) is logged and retried after a backoff that
//! doubles up to [`MAX_BACKOFF`], so workers ride out database restarts without help. Several
//! server instances may share one database; the passes coordinate through PostgreSQL (row locks
//! with SKIP LOCKED, advisory locks), never through each other.
//!
//! [`spawn`] starts them and returns a [`Workers`] guard: dropping it (or [`Workers::stop`])
//! tells every worker to stop, which each does between two transactions, never in the middle of
//! one.

pub mod streams;
pub mod ttl;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::error::ApiError;
use crate::storage::Storage;

/// The longest wait between retries of a failing pass.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The running workers. Dropping this signals them to stop.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Signals the workers to stop and waits until each has finished its current transaction.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the TTL sweeper and the stream trimmer on the current tokio runtime.
pub fn spawn(storage: Storage, settings: &Settings) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let ttl_interval = Duration::from_millis(settings.ttl_sweep_interval_ms.max(1));
    let trim_interval = Duration::from_millis(settings.stream_trim_interval_ms.max(1));
    let tasks = vec![
        tokio::spawn(run_loop("ttl sweeper", ttl_interval, stopped.clone(), {
            let storage = storage.clone();
            let stopped = stopped.clone();
            move || ttl::sweep(storage.clone(), stopped.clone())
        })),
        tokio::spawn(run_loop("stream trimmer", trim_interval, stopped, {
            let storage = storage.clone();
            move || streams::trim(storage.clone())
        })),
    ];
    Workers { stop, tasks }
}

/// Runs `pass` every `interval` until `stopped` turns true, backing off after failures.
async fn run_loop<F, Fut>(
    name: &'static str,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    let registry = crate::metrics::global();
    let failed = registry.counter(
        "dynamo_pg_worker_failures_total",
        "Background worker passes that failed (and were retried after a backoff).",
        &[("worker", name)],
    );
    let last_success = registry.gauge(
        "dynamo_pg_worker_last_success_timestamp_seconds",
        "When the background worker last completed a pass (Unix time).",
        &[("worker", name)],
    );
    let mut failures: u32 = 0;
    loop {
        if *stopped.borrow() {
            break;
        }
        let wait = match pass().await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(worker = name, "recovered");
                }
                failures = 0;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                last_success.set(now.as_secs_f64());
                interval
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                failed.inc();
                let backoff = backoff(interval, failures);
                tracing::warn!(worker = name, error = %e, retry_in_ms = backoff.as_millis() as u64, "pass failed");
                backoff
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
    }
    tracing::debug!(worker = name, "stopped");
}

/// The wait after `failures` consecutive failures: the interval doubled per failure, at least
/// 100 ms, at most [`MAX_BACKOFF`].
fn backoff(interval: Duration, failures: u32) -> Duration {
    let base = interval.max(Duration::from_millis(100));
    base.saturating_mul(1 << failures.min(16)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let i = Duration::from_millis(200);
        assert_eq!(backoff(i, 1), Duration::from_millis(400));
        assert_eq!(backoff(i, 2), Duration::from_millis(800));
        assert_eq!(backoff(i, 30), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_millis(1), 1),
            Duration::from_millis(200)
        );
    }
}
