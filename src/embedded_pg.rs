//! The embedded PostgreSQL: when no database URL is configured, dynamo-pg runs its own PostgreSQL
//! from the installed server binaries, in a data folder that survives restarts, so that one
//! command gives a working DynamoDB endpoint.
//!
//! PostgreSQL refuses to run as root, so when we are root its processes run as the `postgres`
//! user. It listens only on a Unix socket inside the data folder: nothing else on the machine can
//! reach it by accident. The postmaster is our child process; a supervisor task restarts it if it
//! dies, and [`EmbeddedPostgres::stop`] shuts it down cleanly (SIGINT, PostgreSQL's fast shutdown).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::{watch, Mutex};

/// The role and database the embedded server is set up with.
const ROLE: &str = "dynamo_pg";
const DATABASE: &str = "dynamo_pg";
/// Nominal port: it only names the socket file (`.s.PGSQL.5432`).
const PORT: u16 = 5432;

/// Why the embedded PostgreSQL could not be started.
#[derive(Debug)]
pub struct EmbeddedError(pub String);

impl std::fmt::Display for EmbeddedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmbeddedError {}

fn err(msg: impl Into<String>) -> EmbeddedError {
    EmbeddedError(msg.into())
}

/// A running, supervised PostgreSQL owned by this process.
pub struct EmbeddedPostgres {
    /// The tokio-postgres connection string for it.
    pub url: String,
    child: Arc<Mutex<Option<Child>>>,
    stop_tx: watch::Sender<bool>,
    supervisor: tokio::task::JoinHandle<()>,
}

/// The uid/gid to run PostgreSQL as when we are root.
#[derive(Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Initializes the data folder if needed, starts PostgreSQL and creates the database.
    /// `buffer_cache_mb`, if given, replaces the buffer cache's size from
    /// [`shared_buffers_mb`].
    pub async fn start(
        data_dir: &Path,
        buffer_cache_mb: Option<u64>,
    ) -> Result<EmbeddedPostgres, EmbeddedError> {
        let bindir = find_bindir().ok_or_else(|| {
            err(
                "PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL \
                 (e.g. `apt-get install postgresql`) or pass --database-url postgres://...",
            )
        })?;
        std::fs::create_dir_all(data_dir).map_err(|e| {
            err(format!(
                "cannot create data folder {}: {e}",
                data_dir.display()
            ))
        })?;
        let data_dir = std::fs::canonicalize(data_dir)
            .map_err(|e| err(format!("data folder {}: {e}", data_dir.display())))?;
        let pgdata = data_dir.join("pgdata");
        let run_as = run_as()?;
        if let Some(r) = run_as {
            chown(&data_dir, r)?;
        }
        if !pgdata.join("PG_VERSION").exists() {
            initdb(&bindir, &pgdata, run_as).await?;
        }
        let socket_dir = socket_dir(&data_dir, run_as)?;
        let url = format!(
            "host={} port={PORT} user={ROLE} dbname={DATABASE}",
            socket_dir.display()
        );
        let spawn = SpawnSpec {
            bindir,
            pgdata,
            socket_dir: socket_dir.clone(),
            run_as,
            shared_buffers_mb: buffer_cache_mb.unwrap_or_else(shared_buffers_mb),
        };
        let child = spawn.spawn()?;
        wait_ready(&socket_dir, child.id()).await?;
        create_database(&socket_dir).await?;

        let child = Arc::new(Mutex::new(Some(child)));
        let (stop_tx, stop_rx) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(spawn, child.clone(), stop_rx));
        Ok(EmbeddedPostgres {
            url,
            child,
            stop_tx,
            supervisor,
        })
    }

    /// Fast shutdown: PostgreSQL rolls back open transactions, checkpoints and exits.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        let _ = self.supervisor.await;
        let mut guard = self.child.lock().await;
        if let Some(child) = guard.as_mut() {
            if let Some(pid) = child.id() {
                // SAFETY: sending a signal to our own child process.
                unsafe {
                    libc::kill(pid as i32, libc::SIGINT);
                }
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        *guard = None;
    }
}

/// The embedded PostgreSQL's buffer cache, in MB: a quarter of the memory the process may use
/// (the machine's, or its cgroup's limit if lower), PostgreSQL's own advice for a server of its
/// own, between its default of 128 MB and 8 GB. With the default alone, a table larger than
/// 128 MB is read through the operating system's cache, a system call per page: at 1 million
/// items GetItem stayed 13% behind the 100,000-item table (README, At scale). The memory is
/// mapped at start but only taken as pages are used.
pub fn shared_buffers_mb() -> u64 {
    const MB: u64 = 1024 * 1024;
    // SAFETY: sysconf only reads system facts.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let physical = (pages.max(0) as u64).saturating_mul(page_size.max(0) as u64);
    // cgroup v2, then v1 ("max" and v1's huge "unlimited" both leave the machine's figure).
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|path| {
        std::fs::read_to_string(path)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    })
    .min()
    .unwrap_or(u64::MAX);
    (physical.min(limit) / 4 / MB).clamp(128, 8192)
}

/// Everything needed to (re)start the postmaster.
struct SpawnSpec {
    bindir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<RunAs>,
    shared_buffers_mb: u64,
}

impl SpawnSpec {
    fn spawn(&self) -> Result<Child, EmbeddedError> {
        let mut cmd = Command::new(self.bindir.join("postgres"));
        cmd.arg("-D")
            .arg(&self.pgdata)
            .arg("-k")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .args(["-c", "listen_addresses=", "-c", "max_connections=200"])
            .arg("-c")
            .arg(format!("shared_buffers={}MB", self.shared_buffers_mb))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file(&self.pgdata)?))
            .kill_on_drop(false);
        as_user(cmd.as_std_mut(), self.run_as);
        // Keep PostgreSQL out of our process group so a terminal's Ctrl-C reaches only us; we
        // then stop it in order.
        cmd.process_group(0);
        cmd.spawn()
            .map_err(|e| err(format!("cannot start postgres: {e}")))
    }
}

/// Restarts PostgreSQL if it exits while we are not shutting down.
async fn supervise(
    spec: SpawnSpec,
    child: Arc<Mutex<Option<Child>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let mut guard = child.lock().await;
        let exited = match guard.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => return,
        };
        if exited && !*stop.borrow() {
            tracing::warn!("embedded PostgreSQL exited; restarting it");
            match spec.spawn() {
                Ok(c) => *guard = Some(c),
                Err(e) => tracing::error!("cannot restart embedded PostgreSQL: {e}"),
            }
        }
    }
}

/// The directory holding PostgreSQL's server binaries (`initdb`, `postgres`, `pg_ctl`), found
/// as for the embedded server; tests use it to run a PostgreSQL they can stop and restart.
pub fn server_bindir() -> Option<PathBuf> {
    find_bindir()
}

/// Finds the directory with `initdb` and `postgres`: pg_config, then the usual install paths,
/// then PATH.
fn find_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_server(&dir) {
                return Some(dir);
            }
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for root in [
        "/usr/lib/postgresql",
        "/usr/local/lib/postgresql",
        "/opt/homebrew/opt",
    ] {
        if let Ok(entries) = std::fs::read_dir(root) {
            let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
            // Newest major version first.
            dirs.sort_by_key(|d| std::cmp::Reverse(version_of(d)));
            candidates.extend(dirs);
        }
    }
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|d| has_server(d))
}

fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| {
            n.trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// When we are root, PostgreSQL must run as `postgres`.
fn run_as() -> Result<Option<RunAs>, EmbeddedError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == "postgres" {
            if let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse()) {
                return Ok(Some(RunAs { uid, gid }));
            }
        }
    }
    Err(err(
        "running as root, but there is no `postgres` user to run PostgreSQL as: create one \
         (useradd --system postgres), run dynamo-pg as another user, or pass --database-url",
    ))
}

fn as_user(cmd: &mut std::process::Command, run_as: Option<RunAs>) {
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
        cmd.env("HOME", "/tmp");
    }
}

fn chown(path: &Path, r: RunAs) -> Result<(), EmbeddedError> {
    std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid)).map_err(|e| {
        err(format!(
            "cannot hand {} to the postgres user: {e}",
            path.display()
        ))
    })
}

fn log_file(pgdata: &Path) -> Result<std::fs::File, EmbeddedError> {
    let path = pgdata.parent().unwrap_or(pgdata).join("postgres.log");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| err(format!("cannot open {}: {e}", path.display())))
}

async fn initdb(bindir: &Path, pgdata: &Path, run_as: Option<RunAs>) -> Result<(), EmbeddedError> {
    tracing::info!(path = %pgdata.display(), "initializing a new PostgreSQL data folder");
    let mut cmd = Command::new(bindir.join("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            ROLE,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null());
    as_user(cmd.as_std_mut(), run_as);
    let out = cmd
        .output()
        .await
        .map_err(|e| err(format!("cannot run initdb: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Unix socket paths are limited to ~107 bytes; a deep data folder gets its socket in /tmp.
fn socket_dir(data_dir: &Path, run_as: Option<RunAs>) -> Result<PathBuf, EmbeddedError> {
    if data_dir.as_os_str().len() + 20 < 100 {
        return Ok(data_dir.to_path_buf());
    }
    let dir = std::env::temp_dir().join(format!("dynamo-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    if let Some(r) = run_as {
        chown(&dir, r)?;
    }
    Ok(dir)
}

async fn wait_ready(socket_dir: &Path, pid: Option<u32>) -> Result<(), EmbeddedError> {
    let conninfo = format!(
        "host={} port={PORT} user={ROLE} dbname=postgres connect_timeout=2",
        socket_dir.display()
    );
    for _ in 0..300 {
        if tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(err(format!(
        "embedded PostgreSQL (pid {pid:?}) did not accept connections within 30 s; see postgres.log in the data folder"
    )))
}

async fn create_database(socket_dir: &Path) -> Result<(), EmbeddedError> {
    let conninfo = format!(
        "host={} port={PORT} user={ROLE} dbname=postgres",
        socket_dir.display()
    );
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .map_err(|e| err(format!("cannot connect to embedded PostgreSQL: {e}")))?;
    let task = tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
        .await
        .map_err(|e| err(format!("embedded PostgreSQL: {e}")))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await
            .map_err(|e| err(format!("cannot create database: {e}")))?;
    }
    drop(client);
    let _ = task.await;
    Ok(())
}
