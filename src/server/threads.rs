//! Request threads: each accepted connection is served, for its whole life, by one thread
//! running its own single-threaded runtime, with that thread's own PostgreSQL connections
//! (`storage::lanes`). Nothing a request does wakes another thread, and every core can serve.
//!
//! The thread that runs [`super::serve`] is the first request thread: it accepts, serves its
//! share of the connections, and runs the background work. The others only serve what they are
//! handed. A new connection goes to the thread with the fewest open ones; `/metrics` shows
//! each thread's count (`dynamo_pg_request_thread_connections{thread="N"}`).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::State;
use crate::metrics::Gauge;

/// What serving a connection needs, on any thread.
#[derive(Clone)]
struct Shared {
    state: Arc<State>,
    builder: Arc<Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
}

/// A connection on its way to the thread that will serve it.
struct Handed {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    assigned: Assigned,
    done: mpsc::Sender<()>,
}

/// Counts a connection against its thread while it is open.
struct Assigned(Gauge);

impl Drop for Assigned {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One request thread as the accepting thread sees it.
struct Lane {
    /// Open connections served by the thread.
    open: Gauge,
    /// `None` for the accepting thread itself.
    thread: Option<(mpsc::UnboundedSender<Handed>, std::thread::JoinHandle<()>)>,
}

/// The request threads of a running server.
pub(super) struct RequestThreads {
    lanes: Vec<Lane>,
    shared: Shared,
}

impl RequestThreads {
    /// Starts a request thread for each of the storage's lanes but the first, which is the
    /// calling thread. A thread that cannot start is logged and left out; the calling thread
    /// always serves.
    pub(super) fn start(
        state: Arc<State>,
        builder: Arc<Builder<TokioExecutor>>,
        stop: watch::Receiver<bool>,
    ) -> RequestThreads {
        let count = state.ctx.storage.lane_count();
        tokio::spawn(super::busy_poll::spinner(
            state.options.busy_poll,
            state.metrics.in_flight(),
        ));
        let shared = Shared {
            state,
            builder,
            stop,
        };
        let mut lanes = vec![Lane {
            open: open_gauge(0),
            thread: None,
        }];
        for index in 1..count {
            match start_thread(index, shared.clone()) {
                Ok(thread) => lanes.push(Lane {
                    open: open_gauge(index),
                    thread: Some(thread),
                }),
                Err(e) => tracing::warn!("cannot start request thread {index}: {e}"),
            }
        }
        RequestThreads { lanes, shared }
    }

    /// Serves `stream` on the thread with the fewest open connections. `done` is held until
    /// the connection ends (see `serve`'s shutdown).
    pub(super) fn assign(&self, stream: TcpStream, peer: SocketAddr, done: mpsc::Sender<()>) {
        let lane = self
            .lanes
            .iter()
            .min_by(|a, b| a.open.get().total_cmp(&b.open.get()))
            .expect("the accepting thread is always a lane");
        lane.open.inc();
        let assigned = Assigned(lane.open.clone());
        let Some((tx, _)) = &lane.thread else {
            return spawn_connection(stream, peer, assigned, done, &self.shared);
        };
        // The stream leaves this thread's event loop and joins the other's.
        match stream.into_std() {
            Ok(stream) => {
                let _ = tx.send(Handed {
                    stream,
                    peer,
                    assigned,
                    done,
                });
            }
            Err(e) => tracing::warn!(%peer, "cannot hand a connection to its thread: {e}"),
        }
    }

    /// Ends the threads once their connections are done (or given up on): their runtimes,
    /// and whatever is left running on them, are dropped.
    pub(super) async fn stop(self) {
        let handles: Vec<_> = self
            .lanes
            .into_iter()
            .filter_map(|lane| lane.thread)
            .map(|(tx, handle)| {
                drop(tx);
                handle
            })
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for handle in handles {
                let _ = handle.join();
            }
        })
        .await;
    }
}

/// The open-connection gauge of request thread `index`.
fn open_gauge(index: usize) -> Gauge {
    crate::metrics::global().gauge(
        "dynamo_pg_request_thread_connections",
        "Client connections served by each request thread now.",
        &[("thread", &index.to_string())],
    )
}

/// Starts request thread `index`: its own runtime (built here, so that failure is reported
/// before anything is handed to it), on storage lane `index`, serving what it is handed until
/// the accepting thread closes the channel.
fn start_thread(
    index: usize,
    shared: Shared,
) -> std::io::Result<(mpsc::UnboundedSender<Handed>, std::thread::JoinHandle<()>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Handed>();
    let handle = std::thread::Builder::new()
        .name(format!("dynamo-pg-{index}"))
        .spawn(move || {
            crate::storage::lanes::enter(index);
            runtime.block_on(async move {
                tokio::spawn(super::busy_poll::spinner(
                    shared.state.options.busy_poll,
                    shared.state.metrics.in_flight(),
                ));
                while let Some(handed) = rx.recv().await {
                    match TcpStream::from_std(handed.stream) {
                        Ok(stream) => spawn_connection(
                            stream,
                            handed.peer,
                            handed.assigned,
                            handed.done,
                            &shared,
                        ),
                        Err(e) => {
                            tracing::warn!(peer = %handed.peer, "cannot serve a handed connection: {e}")
                        }
                    }
                }
            });
        })?;
    Ok((tx, handle))
}

/// Serves a connection on the calling thread's runtime, counted against it until it ends.
fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    assigned: Assigned,
    done: mpsc::Sender<()>,
    shared: &Shared,
) {
    let task = super::connection(
        stream,
        peer,
        shared.state.clone(),
        shared.builder.clone(),
        shared.stop.clone(),
        done,
    );
    tokio::spawn(async move {
        let _assigned = assigned;
        task.await
    });
}
