//! Server settings, layered as operators expect: built-in defaults, then a TOML file
//! (`--config FILE`, or `dynamo-pg.toml` when present), then `DYNAMO_PG_*` environment variables,
//! then command-line flags. The names here are a public contract: scripts depend on them.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

/// Command-line flags. Each one overrides the file and the environment.
#[derive(Parser, Debug, Default)]
#[command(
    name = "dynamo-pg",
    version,
    about = "A DynamoDB-compatible server that keeps its data in PostgreSQL"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: dynamo-pg.toml in the working directory, if present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve the DynamoDB API on [env: DYNAMO_PG_LISTEN] [default: 127.0.0.1:8000].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// PostgreSQL to keep the data in, e.g. postgres://user:pass@host/db [env: DYNAMO_PG_DATABASE_URL].
    /// Without one, dynamo-pg starts and supervises its own PostgreSQL in --data-dir.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Data folder of the embedded PostgreSQL [env: DYNAMO_PG_DATA_DIR] [default: ./dynamo-pg-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Buffer cache of the embedded PostgreSQL, in MB [env: DYNAMO_PG_SHARED_BUFFERS_MB]
    /// [default: a quarter of memory, 128 to 8192]. Ignored with --database-url.
    #[arg(long, value_name = "MB")]
    pub shared_buffers_mb: Option<u64>,
    /// Connections in the PostgreSQL pool [env: DYNAMO_PG_POOL_SIZE] [default: 8].
    #[arg(long, value_name = "N")]
    pub pool_size: Option<usize>,
    /// Request threads, each serving its share of the connections on its own share of the
    /// pool [env: DYNAMO_PG_WORKER_THREADS] [default: one per core].
    #[arg(long, value_name = "N")]
    pub worker_threads: Option<usize>,
    /// Microseconds a request thread keeps polling, instead of sleeping, after a request
    /// starts or ends while at most one request is in progress; 0 turns it off
    /// [env: DYNAMO_PG_BUSY_POLL_US] [default: 1000].
    #[arg(long, value_name = "MICROSECONDS")]
    pub busy_poll_us: Option<u64>,
    /// Log filter: error, warn, info, debug, trace, or a tracing filter [env: DYNAMO_PG_LOG_LEVEL] [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format: text or json [env: DYNAMO_PG_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log one line per API request (operation, table, status, latency) at info level
    /// [env: DYNAMO_PG_ACCESS_LOG]. Off by default: it costs about 7% of a GetItem's CPU.
    #[arg(long)]
    pub access_log: bool,
    /// Region named in ARNs and the health check [env: DYNAMO_PG_REGION] [default: us-east-1].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Account id named in ARNs [env: DYNAMO_PG_ACCOUNT_ID] [default: 000000000000].
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Access key id clients must sign with [env: DYNAMO_PG_ACCESS_KEY_ID]. More pairs go in the
    /// config file's [[credentials]] list. With none, any credentials are accepted.
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,
    /// Secret key for --access-key-id [env: DYNAMO_PG_SECRET_ACCESS_KEY].
    #[arg(long, value_name = "SECRET")]
    pub secret_access_key: Option<String>,
    /// Serve on a non-loopback address without credentials (anyone could use it)
    /// [env: DYNAMO_PG_ALLOW_UNAUTHENTICATED].
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// PEM certificate chain to serve HTTPS with; needs --tls-key [env: DYNAMO_PG_TLS_CERT].
    /// Re-read on SIGHUP, so a renewed certificate needs no restart.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert [env: DYNAMO_PG_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send a request's headers, counted from the connection's start or
    /// the end of the previous response; also how long an idle connection is kept
    /// [env: DYNAMO_PG_HEADER_TIMEOUT] [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub header_timeout: Option<f64>,
    /// Seconds a client has to send a request's body once its headers are in
    /// [env: DYNAMO_PG_BODY_TIMEOUT] [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub body_timeout: Option<f64>,
    /// Seconds a request waits for a PostgreSQL connection before failing with a retryable 500;
    /// also the readiness check's limit [env: DYNAMO_PG_DATABASE_TIMEOUT] [default: 3].
    #[arg(long, value_name = "SECONDS")]
    pub database_timeout: Option<f64>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT
    /// [env: DYNAMO_PG_SHUTDOWN_TIMEOUT] [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_timeout: Option<f64>,
}

/// One access key clients may sign requests with.
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialSetting {
    /// The key id clients name in their signature's credential scope.
    pub access_key_id: String,
    /// The shared secret the signature is computed with.
    pub secret_access_key: String,
    /// Account id for ARNs of requests signed with this key (default: the server's).
    pub account_id: Option<String>,
}

/// The merged settings the server runs with.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Socket address to listen on; port 0 picks a free port (printed at start-up).
    pub listen: String,
    /// External PostgreSQL; `None` means run an embedded one.
    pub database_url: Option<String>,
    /// Where the embedded PostgreSQL keeps its files.
    pub data_dir: PathBuf,
    /// The embedded PostgreSQL's `shared_buffers` in MB; `None` sizes it from the machine's
    /// memory (`embedded_pg::shared_buffers_mb`). Larger holds a big table in PostgreSQL's own
    /// cache, the only one it can count on where the kernel drops page cache by itself (README,
    /// At scale); smaller leaves memory to other processes.
    #[serde(default)]
    pub shared_buffers_mb: Option<u64>,
    /// Size of the request-path connection pool. Small pools with pipelining beat large ones.
    pub pool_size: usize,
    /// Request threads; `None` is one per core ([`Settings::worker_threads`]).
    #[serde(default)]
    pub worker_threads: Option<usize>,
    /// Busy-polling window of a nearly idle server, in microseconds (`server::busy_poll`):
    /// spends some CPU while requests come one at a time to answer each sooner.
    pub busy_poll_us: u64,
    /// tracing filter directive.
    pub log_level: String,
    /// `text` or `json`.
    pub log_format: String,
    /// One log line per API request (`dynamo_pg::request`); failed requests with a 5xx are
    /// logged at warn either way.
    #[serde(default)]
    pub access_log: bool,
    /// AWS region reported in ARNs.
    pub region: String,
    /// AWS account id reported in ARNs.
    pub account_id: String,
    /// Keys requests must be signed with; empty means any well-formed signature is accepted.
    #[serde(default)]
    pub credentials: Vec<CredentialSetting>,
    /// One key from flags or environment, added to `credentials`.
    pub access_key_id: Option<String>,
    /// The secret for `access_key_id`.
    pub secret_access_key: Option<String>,
    /// Explicit consent to serve a non-loopback address without credentials.
    pub allow_unauthenticated: bool,
    /// PEM certificate chain; with `tls_key`, the API is served over HTTPS (HTTP/2 by ALPN).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Seconds to receive a request's headers (and the longest idle time of a connection).
    pub header_timeout: f64,
    /// Seconds to receive a request's body.
    pub body_timeout: f64,
    /// Seconds to wait for a PostgreSQL connection; bounds how long requests hang when the
    /// database is away.
    pub database_timeout: f64,
    /// Seconds in-flight requests get to finish at shutdown.
    pub shutdown_timeout: f64,
    /// Milliseconds between TTL sweeps (deleting expired items) [env: DYNAMO_PG_TTL_SWEEP_INTERVAL_MS].
    #[serde(default = "default_ttl_sweep_interval_ms")]
    pub ttl_sweep_interval_ms: u64,
    /// Reads leave out items whose TTL has passed but that are not deleted yet (off by default:
    /// DynamoDB returns them until its sweeper deletes them).
    #[serde(default)]
    pub ttl_hide_expired: bool,
    /// Milliseconds between stream trims (records older than 24 h) [env: DYNAMO_PG_STREAM_TRIM_INTERVAL_MS].
    #[serde(default = "default_stream_trim_interval_ms")]
    pub stream_trim_interval_ms: u64,
}

fn default_ttl_sweep_interval_ms() -> u64 {
    5_000
}

fn default_stream_trim_interval_ms() -> u64 {
    60_000
}

impl Settings {
    /// How many request threads to run: as set, or one per core. Each thread runs its own
    /// single-threaded runtime and its own share of the pool (`server::threads`,
    /// `storage::lanes`), so a request never crosses threads and more threads cost no
    /// context switches of their own; with one thread, the cores PostgreSQL leaves idle while
    /// the server is busy stay idle (measured on 2 cores: GetItem at 16 connections 0.42 of
    /// PostgreSQL alone with one thread, 0.56 with two; README, Performance).
    pub fn worker_threads(&self) -> usize {
        if let Some(n) = self.worker_threads {
            return n.max(1);
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Merges defaults, file, environment and flags, in that order of precedence.
    pub fn load(cli: &Cli) -> Result<Settings, config::ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("listen", "127.0.0.1:8000")?
            .set_default("data_dir", "./dynamo-pg-data")?
            .set_default("pool_size", 8)?
            .set_default("busy_poll_us", 1000)?
            .set_default("log_level", "info")?
            .set_default("log_format", "text")?
            .set_default("region", "us-east-1")?
            .set_default("account_id", "000000000000")?
            .set_default("allow_unauthenticated", false)?
            .set_default("header_timeout", 30.0)?
            .set_default("body_timeout", 60.0)?
            .set_default("database_timeout", 3.0)?
            .set_default("shutdown_timeout", 30.0)?;
        builder = match &cli.config {
            // TOML whatever the extension (`dynamo-pg.conf`, a Kubernetes key without one).
            Some(path) => builder.add_source(
                config::File::from(path.as_path())
                    .format(config::FileFormat::Toml)
                    .required(true),
            ),
            None => builder.add_source(config::File::with_name("dynamo-pg.toml").required(false)),
        };
        builder = builder.add_source(
            config::Environment::with_prefix("DYNAMO_PG")
                .prefix_separator("_")
                .try_parsing(true),
        );
        builder = builder
            .set_override_option("listen", cli.listen.clone())?
            .set_override_option("database_url", cli.database_url.clone())?
            .set_override_option(
                "data_dir",
                cli.data_dir.as_ref().map(|p| p.display().to_string()),
            )?
            .set_override_option("shared_buffers_mb", cli.shared_buffers_mb)?
            .set_override_option("pool_size", cli.pool_size.map(|n| n as i64))?
            .set_override_option("worker_threads", cli.worker_threads.map(|n| n as i64))?
            .set_override_option("busy_poll_us", cli.busy_poll_us)?
            .set_override_option("log_level", cli.log_level.clone())?
            .set_override_option("log_format", cli.log_format.clone())?
            .set_override_option("access_log", cli.access_log.then_some(true))?
            .set_override_option("region", cli.region.clone())?
            .set_override_option("account_id", cli.account_id.clone())?
            .set_override_option("access_key_id", cli.access_key_id.clone())?
            .set_override_option("secret_access_key", cli.secret_access_key.clone())?
            .set_override_option(
                "allow_unauthenticated",
                cli.allow_unauthenticated.then_some(true),
            )?
            .set_override_option(
                "tls_cert",
                cli.tls_cert.as_ref().map(|p| p.display().to_string()),
            )?
            .set_override_option(
                "tls_key",
                cli.tls_key.as_ref().map(|p| p.display().to_string()),
            )?
            .set_override_option("header_timeout", cli.header_timeout)?
            .set_override_option("body_timeout", cli.body_timeout)?
            .set_override_option("database_timeout", cli.database_timeout)?
            .set_override_option("shutdown_timeout", cli.shutdown_timeout)?;
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        if settings.database_url.as_deref() == Some("") {
            settings.database_url = None;
        }
        // An empty value (e.g. `DYNAMO_PG_TLS_CERT=` in a container spec) means "not set".
        settings.tls_cert = settings
            .tls_cert
            .take()
            .filter(|p| !p.as_os_str().is_empty());
        settings.tls_key = settings
            .tls_key
            .take()
            .filter(|p| !p.as_os_str().is_empty());
        match (&settings.tls_cert, &settings.tls_key) {
            (Some(_), None) => {
                return Err(config::ConfigError::Message(
                    "tls_cert is set but tls_key is not".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(config::ConfigError::Message(
                    "tls_key is set but tls_cert is not".into(),
                ))
            }
            _ => {}
        }
        for (name, value) in [
            ("header_timeout", settings.header_timeout),
            ("body_timeout", settings.body_timeout),
            ("database_timeout", settings.database_timeout),
            ("shutdown_timeout", settings.shutdown_timeout),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
                return Err(config::ConfigError::Message(format!(
                    "{name} must be a number of seconds between 0 and 86400, not {value}"
                )));
            }
        }
        if let (Some(id), Some(secret)) = (
            settings.access_key_id.clone(),
            settings.secret_access_key.clone(),
        ) {
            settings.credentials.push(CredentialSetting {
                access_key_id: id,
                secret_access_key: secret,
                account_id: None,
            });
        }
        Ok(settings)
    }

    /// `secs` (already validated by [`Settings::load`]) as a Duration.
    pub fn duration(secs: f64) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::from_secs(30))
    }

    /// The credential store these settings describe.
    pub fn credential_store(&self) -> crate::auth::CredentialStore {
        crate::auth::CredentialStore::new(
            self.credentials
                .iter()
                .map(|c| crate::auth::Credential {
                    access_key_id: c.access_key_id.clone(),
                    secret_access_key: c.secret_access_key.clone(),
                    account_id: c.account_id.clone(),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_file(path: &std::path::Path) -> Result<Settings, config::ConfigError> {
        Settings::load(&Cli {
            config: Some(path.to_path_buf()),
            ..Cli::default()
        })
    }

    /// The example file and the Kubernetes ConfigMap ship with the project: they must load.
    #[test]
    fn the_shipped_configuration_files_load() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let example =
            load_file(&root.join("deploy/dynamo-pg.example.toml")).expect("example config");
        assert_eq!(example.listen, "0.0.0.0:8000");
        assert_eq!(example.credentials.len(), 1);
        assert_eq!(example.database_timeout, 3.0);

        let configmap =
            std::fs::read_to_string(root.join("deploy/kubernetes/configmap.yaml")).unwrap();
        let toml: String = configmap
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("dynamo-pg.toml: |"))
            .skip(1)
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect();
        assert!(toml.contains("listen"), "ConfigMap TOML not found");
        let path =
            std::env::temp_dir().join(format!("dynamo-pg-configmap-{}.toml", std::process::id()));
        std::fs::write(&path, toml).unwrap();
        let settings = load_file(&path);
        let _ = std::fs::remove_file(&path);
        let settings = settings.expect("ConfigMap config");
        assert_eq!(settings.log_format, "json");
        assert_eq!(settings.shutdown_timeout, 30.0);
    }

    #[test]
    fn request_threads_default_to_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            Settings::load(&Cli::default()).unwrap().worker_threads(),
            cores
        );
        let set = |n| {
            Settings::load(&Cli {
                worker_threads: Some(n),
                ..Cli::default()
            })
            .unwrap()
            .worker_threads()
        };
        assert_eq!(set(3), 3);
        assert_eq!(set(0), 1, "at least the thread that accepts");
    }

    #[test]
    fn tls_needs_both_files_and_timeouts_must_be_positive() {
        let dir = std::env::temp_dir();
        let write = |name: &str, text: &str| {
            let path = dir.join(format!("dynamo-pg-{}-{name}.toml", std::process::id()));
            std::fs::write(&path, text).unwrap();
            path
        };
        let half_tls = write("half-tls", "tls_cert = \"/x/cert.pem\"\n");
        assert!(load_file(&half_tls)
            .unwrap_err()
            .to_string()
            .contains("tls_key"));
        let zero = write("zero", "body_timeout = 0\n");
        assert!(load_file(&zero)
            .unwrap_err()
            .to_string()
            .contains("body_timeout"));
        let fraction = write("fraction", "header_timeout = 0.5\n");
        assert_eq!(load_file(&fraction).unwrap().header_timeout, 0.5);
        for p in [half_tls, zero, fraction] {
            let _ = std::fs::remove_file(p);
        }
    }
}
