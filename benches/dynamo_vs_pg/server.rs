//! The system under test: a dynamo-pg process with its own embedded PostgreSQL in a fresh data
//! folder, and what the benchmark reads about it from /proc (memory, CPU time).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running dynamo-pg. Dropping it stops the server (SIGTERM, which also stops its PostgreSQL
/// cleanly) and waits for it.
pub struct Server {
    child: Child,
    /// Where the DynamoDB API is served.
    pub addr: SocketAddr,
    /// The directory that holds the embedded PostgreSQL's Unix socket.
    pub socket_dir: PathBuf,
    /// The embedded PostgreSQL's data directory (it holds `postmaster.pid`).
    pgdata: PathBuf,
}

impl Server {
    /// Starts `bin` in the benchmark's folder `root` (data in `root/data`, log in
    /// `root/server.log`) and gives it half a second to settle after it listens.
    pub async fn start_in(root: &Path, bin: &Path, extra: &[String]) -> Result<Server, String> {
        let server = Server::start(bin, &root.join("data"), &root.join("server.log"), extra)?;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Ok(server)
    }

    /// Starts `bin` with `--data-dir data_dir --listen 127.0.0.1:0` and `extra` arguments,
    /// its log going to `log`, and waits until it prints the address it listens on.
    fn start(bin: &Path, data_dir: &Path, log: &Path, extra: &[String]) -> Result<Server, String> {
        let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        // SAFETY: prctl between fork and exec, no allocation: the server gets SIGTERM if the
        // benchmark dies without stopping it.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = lines.by_ref().map_while(Result::ok).find_map(|line| {
            line.strip_prefix("dynamo-pg listening on http://")
                .and_then(|a| a.trim().parse().ok())
        });
        let Some(addr) = addr else {
            let status = child.wait();
            return Err(format!(
                "dynamo-pg exited before listening ({status:?}); see {}",
                log.display()
            ));
        };
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        let socket_dir = find_socket_dir(data_dir, child.id())?;
        Ok(Server {
            child,
            addr,
            socket_dir,
            pgdata: data_dir.join("pgdata"),
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The embedded PostgreSQL's postmaster, from `postmaster.pid` (0 if unreadable).
    pub fn postmaster_pid(&self) -> u32 {
        std::fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// CPU counters now.
    pub fn cpu(&self) -> CpuSample {
        CpuSample::now(self.pid(), self.postmaster_pid())
    }

    /// A SQL session on the embedded PostgreSQL (as the server's own user, through its Unix
    /// socket), for the benchmark's checks and bulk loads. The connection is driven by a task
    /// on the current tokio runtime and ends when the client is dropped.
    pub async fn sql(&self) -> Result<tokio_postgres::Client, String> {
        let conninfo = format!(
            "host={} port=5432 user=dynamo_pg dbname=dynamo_pg",
            self.socket_dir.display()
        );
        let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the embedded PostgreSQL: {e}"))?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Resets the server's `VmHWM` to its current RSS (`/proc/PID/clear_refs`), so that
    /// [`Server::peak_rss_kib`] then reports the peak of what follows. False if the kernel
    /// refused.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// The server's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:")
    }

    /// The server's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling our own child, which we have not yet waited for.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The embedded PostgreSQL puts its socket in the data folder, or in /tmp/dynamo-pg-<pid> when
/// the folder's path is too long for a socket address.
fn find_socket_dir(data_dir: &Path, server_pid: u32) -> Result<PathBuf, String> {
    let candidates = [
        data_dir.to_path_buf(),
        std::env::temp_dir().join(format!("dynamo-pg-{server_pid}")),
    ];
    candidates
        .iter()
        .find(|d| d.join(".s.PGSQL.5432").exists())
        .cloned()
        .ok_or_else(|| format!("no PostgreSQL socket in {candidates:?}"))
}

/// A `kB` line of /proc/PID/status, in KiB (0 if unreadable).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// CPU time counters at one instant, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSample {
    /// All cores, busy (everything but idle and iowait).
    pub machine_busy: u64,
    /// All cores, in total.
    pub machine_total: u64,
    /// The dynamo-pg process (all its threads).
    pub server: u64,
    /// PostgreSQL: the postmaster, its live children (backends, background processes) and the
    /// children it has reaped (backends that ended).
    pub postgres: u64,
    /// This process: the load generator.
    pub generator: u64,
}

impl CpuSample {
    /// Reads the counters now.
    pub fn now(server_pid: u32, postmaster_pid: u32) -> CpuSample {
        let tick_us = 1_000_000 / clock_ticks_per_second();
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        CpuSample {
            machine_busy: (total - idle) * tick_us,
            machine_total: total * tick_us,
            server: process_cpu_ticks(&server_pid.to_string()).0 * tick_us,
            postgres: postgres_cpu_ticks(postmaster_pid) * tick_us,
            generator: process_cpu_ticks("self").0 * tick_us,
        }
    }

    /// The counters' growth since `earlier`.
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        CpuSample {
            machine_busy: self.machine_busy.saturating_sub(earlier.machine_busy),
            machine_total: self.machine_total.saturating_sub(earlier.machine_total),
            server: self.server.saturating_sub(earlier.server),
            postgres: self.postgres.saturating_sub(earlier.postgres),
            generator: self.generator.saturating_sub(earlier.generator),
        }
    }
}

/// From /proc/`pid`/stat, in clock ticks: (utime + stime, cutime + cstime, parent pid).
fn process_cpu_ticks(pid: &str) -> (u64, u64, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field k of the whole line (1-based, as in proc(5)) is fields[k - 3].
    let get = |k: usize| {
        fields
            .get(k - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get(14) + get(15), get(16) + get(17), get(4) as u32)
}

/// CPU ticks of the postmaster `pid` with everything under it, live or ended.
fn postgres_cpu_ticks(pid: u32) -> u64 {
    if pid == 0 {
        return 0;
    }
    let (own, reaped, _) = process_cpu_ticks(&pid.to_string());
    let live: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .map(String::from)
        })
        .map(|child| process_cpu_ticks(&child))
        .filter(|(_, _, parent)| *parent == pid)
        .map(|(ticks, _, _)| ticks)
        .sum();
    own + reaped + live
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// A PostgreSQL error as text, with the server's message when there is one.
pub fn sql_error(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("SQL: {}: {}", db.severity(), db.message()),
        None => format!("SQL: {e}"),
    }
}
