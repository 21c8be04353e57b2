//! The `dynamo-pg` binary: load settings, bring up PostgreSQL (embedded or external), serve the
//! DynamoDB API until SIGINT/SIGTERM, then shut down in order.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use dynamo_pg::api::Ctx;
use dynamo_pg::config::{Cli, Settings};
use dynamo_pg::embedded_pg::EmbeddedPostgres;
use dynamo_pg::server::{ServerOptions, Tls};
use dynamo_pg::storage::Storage;

/// mimalloc instead of glibc's malloc: a request allocates and frees many small objects
/// (JSON values, strings), and glibc's arena locks and consolidation were a fifth to a third of
/// the server's CPU under load (see README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dynamo-pg: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
    // This thread is the first request thread; the server starts the others, each with a
    // single-threaded runtime of its own (see `server::threads`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dynamo-pg: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dynamo-pg: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    // Certificate problems are configuration errors: report them before starting anything.
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(Tls::load(cert, key)?)),
        _ => None,
    };
    let embedded = match &settings.database_url {
        Some(_) => None,
        None => {
            Some(EmbeddedPostgres::start(&settings.data_dir, settings.shared_buffers_mb).await?)
        }
    };
    let url = settings
        .database_url
        .clone()
        .or_else(|| embedded.as_ref().map(|e| e.url.clone()))
        .unwrap_or_default();
    let result = serve(&settings, &url, tls).await;
    if let Some(pg) = embedded {
        tracing::info!("stopping embedded PostgreSQL");
        pg.stop().await;
    }
    result
}

async fn serve(
    settings: &Settings,
    url: &str,
    tls: Option<Arc<Tls>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let storage = Storage::connect_with_timeout(
        url,
        settings.pool_size,
        Settings::duration(settings.database_timeout),
        settings.worker_threads(),
    )
    .await?;

    // Background workers (TTL sweeper, stream trimmer); they stop when this guard is dropped.
    let workers = dynamo_pg::workers::spawn(storage.clone(), settings);
    let storage_handle = storage.clone();

    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr()?;
    if settings.credentials.is_empty()
        && !addr.ip().is_loopback()
        && !settings.allow_unauthenticated
    {
        return Err(format!(
            "refusing to serve {addr} without credentials: anyone who can reach it could read and change \
             every table. Configure credentials (--access-key-id/--secret-access-key or [[credentials]] \
             in the config file), listen on a loopback address, or set allow_unauthenticated = true"
        )
        .into());
    }
    let ctx = Arc::new(Ctx {
        storage,
        region: settings.region.clone(),
        account_id: settings.account_id.clone(),
        endpoint_address: addr.to_string(),
        credentials: std::sync::RwLock::new(Arc::new(settings.credential_store())),
        hide_expired: settings.ttl_hide_expired,
    });
    tokio::spawn(reload_on_sighup(Arc::downgrade(&ctx), tls.clone()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Scripts and the test harness read this line to learn the port.
    println!("dynamo-pg listening on {scheme}://{addr}");
    tracing::info!(%addr, tls = tls.is_some(), "serving the DynamoDB API");
    let options = ServerOptions {
        tls,
        header_timeout: Settings::duration(settings.header_timeout),
        body_timeout: Settings::duration(settings.body_timeout),
        database_timeout: Settings::duration(settings.database_timeout),
        shutdown_timeout: Settings::duration(settings.shutdown_timeout),
        access_log: settings.access_log,
        busy_poll: std::time::Duration::from_micros(settings.busy_poll_us),
    };
    dynamo_pg::server::serve(listener, ctx, options, shutdown_signal()).await;
    // Let a worker finish its current transaction before PostgreSQL (if embedded) is stopped.
    workers.stop().await;
    storage_handle.shutdown();
    tracing::info!("shut down");
    Ok(())
}

/// SIGHUP re-reads the configuration and swaps in its credentials, and re-reads the TLS
/// certificate and key, so keys and certificates can be rotated without a restart. Whatever no
/// longer loads keeps its old value.
///
/// The task holds the context weakly, so that it keeps no database connection open once the
/// server has stopped.
async fn reload_on_sighup(ctx: std::sync::Weak<Ctx>, tls: Option<Arc<Tls>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let Some(ctx) = ctx.upgrade() else { return };
        let loaded = Cli::try_parse()
            .map_err(|e| e.to_string())
            .and_then(|cli| Settings::load(&cli).map_err(|e| e.to_string()));
        match loaded {
            Ok(settings) => {
                let store = Arc::new(settings.credential_store());
                tracing::info!(keys = store.len(), "credentials reloaded");
                if let Ok(mut current) = ctx.credentials.write() {
                    *current = store;
                }
            }
            Err(e) => {
                tracing::error!("configuration reload failed, keeping the old credentials: {e}")
            }
        }
        if let Some(tls) = &tls {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!("TLS reload failed, keeping the old certificate: {e}"),
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
