//! Busy polling while the server is nearly idle: a request thread that would go to sleep
//! between a request's steps keeps polling its sockets instead, for a short window.
//!
//! Why: with one client sending requests one after another, every request crosses four
//! sleeps (client, server, PostgreSQL, server again) and each wake-up is a context switch
//! and, on a VM, an inter-processor interrupt: tens of microseconds each, more than the work
//! itself, and the caches go cold in between. A thread that keeps polling is never woken.
//! Under load a thread seldom sleeps and the cores are needed by PostgreSQL, so polling
//! happens only while at most one request is in progress in the whole server, on one thread
//! at a time, and ends `window` after that thread's last request started or finished: an
//! idle server sleeps as before.
//!
//! How: each request thread runs a [`spinner`] task. Starting a request wakes it; it then
//! yields in a loop, and a single-threaded tokio runtime whose only ready task has yielded
//! polls its sockets without blocking (`epoll_wait` with a zero timeout) before running it
//! again.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::metrics::Gauge;

/// Set while some thread is polling: one polling thread is enough to cover one request.
static POLLING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's spinner, if it runs one.
    static SPINNER: RefCell<Option<Arc<Notify>>> = const { RefCell::new(None) };
    /// When a request last started or finished on this thread.
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// A request in progress on this thread, from its headers to its response: its start and end
/// restart the thread's polling window.
pub(super) struct Request(());

impl Request {
    /// Notes a request's start and lets this thread's spinner know.
    pub(super) fn start() -> Request {
        LAST.set(Some(Instant::now()));
        SPINNER.with_borrow(|spinner| {
            if let Some(spinner) = spinner {
                spinner.notify_one();
            }
        });
        Request(())
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        LAST.set(Some(Instant::now()));
    }
}

/// The polling task of the calling request thread; runs until the runtime is dropped. It
/// polls while `in_flight` (the server's API requests in progress, `/metrics`'
/// `dynamo_pg_requests_in_flight`) is at most one. A zero `window` turns busy polling off.
pub(super) async fn spinner(window: Duration, in_flight: Gauge) {
    if window.is_zero() {
        return;
    }
    let notify = Arc::new(Notify::new());
    SPINNER.set(Some(notify.clone()));
    let _registered = Registered;
    loop {
        notify.notified().await;
        let Some(_polling) = Polling::take() else {
            continue;
        };
        while in_flight.get() <= 1.0 && LAST.get().is_some_and(|last| last.elapsed() < window) {
            tokio::task::yield_now().await;
        }
    }
}

/// Unregisters the thread's spinner when its task is dropped with the runtime.
struct Registered;

impl Drop for Registered {
    fn drop(&mut self) {
        SPINNER.set(None);
    }
}

/// The one thread allowed to poll, until dropped.
struct Polling;

impl Polling {
    fn take() -> Option<Polling> {
        (!POLLING.swap(true, Ordering::Acquire)).then_some(Polling)
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        POLLING.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_restarts_the_window_when_it_starts_and_ends() {
        let request = Request::start();
        let started = LAST.get().expect("stamped at start");
        std::thread::sleep(Duration::from_millis(2));
        drop(request);
        assert!(LAST.get().expect("stamped at end") > started);
    }
}
