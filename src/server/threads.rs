//! Request threads: each accepted connection is served, for its whole life, by one thread
//! running its own single-threaded runtime, with that thread's own PostgreSQL connections
//! (`storage::lanes`). Nothing a request does wakes another thread, and every core can serve.
//!
//! The thread that runs [`super::serve`] is the first request thread: it accepts, serves its
//! share of the connections, and runs the background work. The others only serve what they are
//! handed. A new connection goes to the thread with the fewest open ones.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::State;

/// A connection on its way to the thread that will serve it.
struct Handed {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    assigned: Assigned,
    done: mpsc::Sender<()>,
}

/// Counts a connection against its thread while it is open.
struct Assigned(Arc<AtomicUsize>);

impl Drop for Assigned {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request thread as the accepting thread sees it.
struct Lane {
    /// Open connections served by the thread.
    open: Arc<AtomicUsize>,
    /// `None` for the accepting thread itself.
    thread: Option<(mpsc::UnboundedSender<Handed>, std::thread::JoinHandle<()>)>,
}

/// The request threads of a running server.
pub(super) struct RequestThreads {
    lanes: Vec<Lane>,
    state: Arc<State>,
    builder: Arc<Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
}

impl RequestThreads {
    /// Starts `count - 1` threads besides the calling one. A thread whose runtime cannot be
    /// built is logged and left out; the calling thread always serves.
    pub(super) fn start(
        count: usize,
        state: Arc<State>,
        builder: Arc<Builder<TokioExecutor>>,
        stop: watch::Receiver<bool>,
    ) -> RequestThreads {
        let mut lanes = vec![Lane {
            open: Arc::new(AtomicUsize::new(0)),
            thread: None,
        }];
        for index in 1..count.max(1) {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!("cannot start request thread {index}: {e}");
                    continue;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let (state, builder, stop) = (state.clone(), builder.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("dynamo-pg-{index}"))
                .spawn(move || {
                    crate::storage::lanes::enter(index);
                    runtime.block_on(serve_handed(rx, state, builder, stop));
                });
            match spawned {
                Ok(handle) => lanes.push(Lane {
                    open: Arc::new(AtomicUsize::new(0)),
                    thread: Some((tx, handle)),
                }),
                Err(e) => tracing::warn!("cannot start request thread {index}: {e}"),
            }
        }
        RequestThreads {
            lanes,
            state,
            builder,
            stop,
        }
    }

    /// Serves `stream` on the thread with the fewest open connections. `done` is held until
    /// the connection ends (see `serve`'s shutdown).
    pub(super) fn assign(&self, stream: TcpStream, peer: SocketAddr, done: mpsc::Sender<()>) {
        let lane = self
            .lanes
            .iter()
            .min_by_key(|lane| lane.open.load(Ordering::Relaxed))
            .expect("the accepting thread is always a lane");
        lane.open.fetch_add(1, Ordering::Relaxed);
        let assigned = Assigned(lane.open.clone());
        let Some((tx, _)) = &lane.thread else {
            let task = super::connection(
                stream,
                peer,
                self.state.clone(),
                self.builder.clone(),
                self.stop.clone(),
                done,
            );
            tokio::spawn(async move {
                let _assigned = assigned;
                task.await
            });
            return;
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

/// A request thread's loop: serve each connection handed over until the accepting thread
/// closes the channel.
async fn serve_handed(
    mut handed: mpsc::UnboundedReceiver<Handed>,
    state: Arc<State>,
    builder: Arc<Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
) {
    while let Some(Handed {
        stream,
        peer,
        assigned,
        done,
    }) = handed.recv().await
    {
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%peer, "cannot serve a handed connection: {e}");
                continue;
            }
        };
        let task = super::connection(
            stream,
            peer,
            state.clone(),
            builder.clone(),
            stop.clone(),
            done,
        );
        tokio::spawn(async move {
            let _assigned = assigned;
            task.await
        });
    }
}
