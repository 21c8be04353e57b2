//! The accept loop: HTTP/1.1 (keep-alive) and HTTP/2 (h2c with prior knowledge, or `h2` by ALPN
//! over TLS) on one listener, with the timeouts that keep slow or silent clients from holding
//! connections, and graceful shutdown that lets in-flight requests finish.
//!
//! Time limits, all from [`ServerOptions`]:
//! - TLS handshake: `header_timeout`.
//! - HTTP/1.1 request headers: `header_timeout` (hyper's header read timeout), counted from the
//!   connection's start or the end of the previous response, so it also closes idle keep-alive
//!   connections.
//! - Any connection (HTTP/2 included, and one that never sends a byte) with no traffic and no
//!   request in progress for `header_timeout` is closed gracefully (HTTP/2 gets a GOAWAY).
//! - Request body: `body_timeout`, from the moment the headers are in (see `http.rs`).
//! - Shutdown: open requests get `shutdown_timeout` to finish.

mod busy_poll;
mod http;
mod io;
mod observe;
mod request_id;
mod threads;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::api::Ctx;

pub use tls::Tls;

/// How the server treats connections; built from the settings by `main`.
#[derive(Clone)]
pub struct ServerOptions {
    /// Serve HTTPS with this certificate; `None` serves plain HTTP.
    pub tls: Option<Arc<Tls>>,
    /// Limit for a TLS handshake, for a request's headers, and for an idle connection.
    pub header_timeout: Duration,
    /// Limit for receiving a request's body once its headers are in.
    pub body_timeout: Duration,
    /// Limit for the readiness check's `SELECT 1`.
    pub database_timeout: Duration,
    /// How long in-flight requests may run on after shutdown starts.
    pub shutdown_timeout: Duration,
    /// Log every API request at info (`dynamo_pg::request`), not only the failed ones.
    pub access_log: bool,
    /// How long a nearly idle request thread polls instead of sleeping (`busy_poll`); zero
    /// turns polling off.
    pub busy_poll: Duration,
}

impl Default for ServerOptions {
    /// Plain HTTP with the documented default limits.
    fn default() -> Self {
        ServerOptions {
            tls: None,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            database_timeout: Duration::from_secs(3),
            shutdown_timeout: Duration::from_secs(30),
            access_log: false,
            busy_poll: Duration::ZERO,
        }
    }
}

/// What every request handler shares.
pub(crate) struct State {
    ctx: Arc<Ctx>,
    options: ServerOptions,
    /// Set when shutdown starts: `/health/ready` then says no, so load balancers stop sending.
    draining: AtomicBool,
    metrics: observe::ServerMetrics,
}

/// Serves `listener` until `shutdown` resolves, then stops accepting and waits (up to
/// `shutdown_timeout`) for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Ctx>,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let pool_gauges = Arc::new(ctx.storage.clone());
    observe::register_pool_gauges(&pool_gauges);
    let shutdown_timeout = options.shutdown_timeout;
    let builder = Arc::new(connection_builder(&options));
    let state = Arc::new(State {
        ctx,
        options,
        draining: AtomicBool::new(false),
        metrics: observe::ServerMetrics::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when the last one is dropped, all have ended.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    // One per storage lane, so that each has its own connections.
    let threads = threads::RequestThreads::start(state.clone(), builder, stop_rx);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => threads.assign(stream, peer, done_tx.clone()),
                Err(e) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.draining.store(true, Ordering::Release);
    let _ = stop_tx.send(true);
    drop(done_tx);
    if tokio::time::timeout(shutdown_timeout, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            "some connections did not finish within {} s of shutdown",
            shutdown_timeout.as_secs_f64()
        );
    }
    threads.stop().await;
    drop(pool_gauges);
}

/// HTTP/1.1 and HTTP/2 settings shared by all connections.
fn connection_builder(options: &ServerOptions) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        // Finds peers that vanished without closing (a pulled cable, a dead NAT entry).
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(256);
    builder
}

/// One accepted connection: TLS handshake if configured, then HTTP until the client leaves, the
/// connection idles out, or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    builder: Arc<Builder<TokioExecutor>>,
    mut stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
) {
    let _ = stream.set_nodelay(true);
    let _open = state.metrics.connection_opened();
    let activity = Arc::new(io::Activity::new());
    let stream = io::Tracked::new(stream, activity.clone());
    let Some(tls) = state.options.tls.clone() else {
        return drive(TokioIo::new(stream), peer, state, builder, activity, stop).await;
    };
    let Some(acceptor) = tls.acceptor() else {
        return;
    };
    let handshake = tokio::time::timeout(state.options.header_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                state.metrics.tls_handshake_failed();
                tracing::debug!(%peer, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                state.metrics.tls_handshake_failed();
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = stop.wait_for(|stopping| *stopping) => return,
    };
    drive(TokioIo::new(stream), peer, state, builder, activity, stop).await
}

/// Serves HTTP on an established (possibly TLS) stream.
async fn drive<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    state: Arc<State>,
    builder: Arc<Builder<TokioExecutor>>,
    activity: Arc<io::Activity>,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service_state = state.clone();
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |req| {
        let state = service_state.clone();
        let in_flight = service_activity.request_started();
        let polled = busy_poll::Request::start();
        async move {
            let response = http::handle(&state, req, peer).await;
            drop(polled);
            drop(in_flight);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let idle_limit = state.options.header_timeout;
    let mut closing = false;
    if *stop.borrow() {
        conn.as_mut().graceful_shutdown();
        closing = true;
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            _ = stop.wait_for(|stopping| *stopping), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = activity.idle_for(idle_limit), if !closing => {
                tracing::debug!(%peer, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            // A client that ignores the close (never reads its last response, never answers a
            // GOAWAY) is cut off; shutdown as a whole is bounded by `serve` anyway.
            _ = tokio::time::sleep(state.options.shutdown_timeout), if closing => return,
        }
    }
}
