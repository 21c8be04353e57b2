//! The only place that writes SQL: the catalog of tables and the items in them.
//!
//! Request-path queries go through a deadpool-postgres pool of tokio-postgres connections with
//! cached prepared statements; sqlx is used once at start-up to run the migrations in
//! `migrations/`.

mod cache;
pub mod catalog;
mod coalesce;
mod index_builder;
pub mod items;
mod key;
pub mod lanes;
pub mod layout;
mod pipelined;
mod point_reads;
mod puts;
pub mod read;
pub mod stored_item;
pub mod streams;
pub mod transact;
pub mod ttl;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::error::{ApiError, ErrorKind};

pub use key::{KeyParam, StoredKey};
pub use stored_item::StoredItem;

/// The namespace every table lives in until per-account isolation exists.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Connections, and the in-memory catalog cache that keeps metadata off the request path.
#[derive(Clone)]
pub struct Storage {
    /// One per request thread (see [`lanes`]); the calling thread's is [`Storage::lane`].
    lanes: Arc<[Lane]>,
    cache: Arc<cache::CatalogCache>,
    /// The shard-iterator signing key, read from the database once (see `streams`).
    stream_secret: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// Wakes the index builder when UpdateTable starts index work.
    index_wake: Arc<tokio::sync::Notify>,
    /// Set at shutdown: the storage's own background tasks (catalog listener, index builder)
    /// stop, so that nothing holds a connection while PostgreSQL goes down.
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

/// One request thread's share of the storage. Its connections' tokio-postgres tasks run on the
/// thread that opened them, so a request served on its own thread's connections never wakes
/// another thread.
struct Lane {
    pool: Pool,
    /// GetItem's per-table queues, which let concurrent point reads share a statement.
    point_reads: point_reads::PointReads,
    /// PutItem's per-table queues, which let concurrent puts share a statement and a commit.
    puts: puts::Puts,
}

/// Why start-up could not reach or prepare the database.
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

impl Storage {
    /// Connects, runs the migrations, and builds the pool, with the default 3 s database timeout
    /// and one request thread.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Storage, StartupError> {
        Self::connect_with_timeout(url, pool_size, Duration::from_secs(3), 1).await
    }

    /// [`Storage::connect`] with `timeout` bounding how long a request waits for a connection
    /// (a free one, or a new one being opened): when PostgreSQL is away, requests fail within it
    /// with a retryable 500 instead of piling up. `pool_size` connections are shared out among
    /// up to `threads` request threads ([`lanes::pool_sizes`]); [`Storage::lane_count`] says
    /// how many threads got a share.
    pub async fn connect_with_timeout(
        url: &str,
        pool_size: usize,
        timeout: Duration,
        threads: usize,
    ) -> Result<Storage, StartupError> {
        let pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StartupError(format!("invalid database URL: {e}")))?;
        run_migrations(&pg_config).await?;
        let cache = Arc::new(cache::CatalogCache::default());
        let stopping = Arc::new(tokio::sync::watch::Sender::new(false));
        cache::spawn_listener(pg_config.clone(), cache.clone(), stopping.subscribe());
        let sizes = lanes::pool_sizes(pool_size, threads);
        let mut lanes = Vec::with_capacity(sizes.len());
        for size in &sizes {
            let manager = Manager::from_config(
                request_path_config(pg_config.clone()),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            let pool = Pool::builder(manager)
                .max_size(*size)
                .wait_timeout(Some(timeout))
                .create_timeout(Some(timeout))
                .recycle_timeout(Some(timeout))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StartupError(format!("cannot build the connection pool: {e}")))?;
            let statements = lanes::point_read_statements(*size, sizes.len());
            lanes.push(Lane {
                pool,
                point_reads: point_reads::PointReads::new(statements, point_reads::COUNTERS),
                puts: puts::Puts::new(statements, puts::COUNTERS),
            });
        }
        // Fail at start-up, not on the first request, when the database is unreachable. (This
        // connection stays in the first lane's pool: the thread that starts the server is the
        // first request thread.)
        let _probe = lanes[0]
            .pool
            .get()
            .await
            .map_err(|e| StartupError(format!("cannot connect to PostgreSQL: {e}")))?;
        let storage = Storage {
            lanes: lanes.into(),
            cache,
            stream_secret: Default::default(),
            index_wake: Arc::new(tokio::sync::Notify::new()),
            stopping,
        };
        index_builder::spawn(storage.clone());
        Ok(storage)
    }

    /// The pools' figures (size, idle, waiting), summed over the request threads, for
    /// `/metrics`.
    pub fn pool_status(&self) -> deadpool_postgres::Status {
        let mut sum = deadpool_postgres::Status {
            max_size: 0,
            size: 0,
            available: 0,
            waiting: 0,
        };
        for lane in self.lanes.iter() {
            let status = lane.pool.status();
            sum.max_size += status.max_size;
            sum.size += status.size;
            sum.available += status.available;
            sum.waiting += status.waiting;
        }
        sum
    }

    /// How many request threads the connections were shared among: the server runs that many.
    pub fn lane_count(&self) -> usize {
        self.lanes.len()
    }

    /// The calling request thread's connections and GetItem queues.
    fn lane(&self) -> &Lane {
        &self.lanes[lanes::current() % self.lanes.len()]
    }

    /// Readiness: PostgreSQL answers `SELECT 1` through the pool within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), String> {
        let check = async {
            let conn = self.lane().pool.get().await.map_err(|e| e.to_string())?;
            conn.simple_query("SELECT 1")
                .await
                .map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        };
        tokio::time::timeout(timeout, check).await.map_err(|_| {
            format!(
                "PostgreSQL did not answer within {} ms",
                timeout.as_millis()
            )
        })?
    }

    /// Stops the storage's background tasks and closes the pool (at shutdown, after the
    /// requests and workers are done).
    pub fn shutdown(&self) {
        self.stopping.send_replace(true);
        for lane in self.lanes.iter() {
            lane.pool.close();
        }
    }

    /// A pooled connection; failures become DynamoDB's retryable 5xx.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, ApiError> {
        self.lane().pool.get().await.map_err(|e| {
            count_db_error();
            tracing::error!("database unavailable: {e}");
            ApiError::new(ErrorKind::InternalServerError, "Internal server error")
        })
    }
}

/// Settings of request-path connections beyond the URL's (PostgreSQL's `options`).
///
/// - `plan_cache_mode=force_generic_plan`: every request statement is a lookup or range scan on
///   a key whose best plan does not depend on the values, but PostgreSQL's default (`auto`)
///   keeps planning some of them afresh on every execution, e.g. the `unnest` join that reads a
///   batch of keys, because its custom plans look no dearer than the generic one; that planning
///   was most of PostgreSQL's CPU per batched GetItem (perf: copyObject,
///   expression_tree_walker, catalog lookups).
/// - `jit=off`: PostgreSQL compiles a statement with LLVM when its estimated cost is high, and
///   does so again on every execution. A Scan's 500-row chunk of a 10-million-item table
///   crossed that line: 80% of PostgreSQL's CPU went to LLVM and the Scan read 6,200 items/s
///   instead of 61,900. Our statements touch a few hundred rows at most; compiling never
///   pays for itself.
const REQUEST_PATH_OPTIONS: &str = "-c plan_cache_mode=force_generic_plan -c jit=off";

/// The URL's settings with [`REQUEST_PATH_OPTIONS`] added after any `options` it gives.
fn request_path_config(mut config: tokio_postgres::Config) -> tokio_postgres::Config {
    let options = match config.get_options() {
        Some(given) => format!("{given} {REQUEST_PATH_OPTIONS}"),
        None => REQUEST_PATH_OPTIONS.to_string(),
    };
    config.options(&options);
    config
}

/// Runs `migrations/` with sqlx on a short-lived connection.
async fn run_migrations(config: &tokio_postgres::Config) -> Result<(), StartupError> {
    use sqlx::Connection;
    let mut opts = sqlx::postgres::PgConnectOptions::new();
    if let Some(host) = config.get_hosts().first() {
        opts = match host {
            tokio_postgres::config::Host::Tcp(h) => opts.host(h),
            tokio_postgres::config::Host::Unix(p) => opts.socket(p),
        };
    }
    if let Some(port) = config.get_ports().first() {
        opts = opts.port(*port);
    }
    if let Some(user) = config.get_user() {
        opts = opts.username(user);
    }
    if let Some(pw) = config.get_password() {
        opts = opts.password(&String::from_utf8_lossy(pw));
    }
    if let Some(db) = config.get_dbname() {
        opts = opts.database(db);
    }
    let mut conn = sqlx::postgres::PgConnection::connect_with(&opts)
        .await
        .map_err(|e| StartupError(format!("cannot connect to PostgreSQL: {e}")))?;
    sqlx::migrate!("./migrations")
        .run(&mut conn)
        .await
        .map_err(|e| StartupError(format!("database migration failed: {e}")))?;
    let _ = conn.close().await;
    Ok(())
}

/// Maps a database error on the request path to DynamoDB's retryable error, logging the cause.
pub(crate) fn db_error(e: tokio_postgres::Error) -> ApiError {
    count_db_error();
    // tokio-postgres prints a server error as just "db error"; the server's message is what
    // an operator needs.
    match e.as_db_error() {
        Some(db) => tracing::error!(
            "database error: {} ({}): {}",
            db.severity(),
            db.code().code(),
            db.message()
        ),
        None => tracing::error!("database error: {e}"),
    }
    ApiError::new(ErrorKind::InternalServerError, "Internal server error")
}

/// Counts a request-path database failure in `/metrics` (`dynamo_pg_db_errors_total`), the
/// figure to alert on when PostgreSQL goes away.
fn count_db_error() {
    crate::metrics::global()
        .counter(
            "dynamo_pg_db_errors_total",
            "Request-path PostgreSQL failures (no connection within the timeout, or a failed query).",
            &[],
        )
        .inc();
}
