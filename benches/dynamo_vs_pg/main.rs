//! `cargo bench`: dynamo-pg against PostgreSQL alone, on one machine, side by side.
//!
//! 1. Starts the release dynamo-pg on a fresh embedded PostgreSQL (a temporary data folder).
//! 2. Preloads `BENCH_ITEMS` items of about 1 KB (BatchWriteItem when the server has it, else
//!    PutItem over many connections), and copies them into a plain table for pgbench.
//! 3. For each operation (GetItem, PutItem, conditional UpdateItem, Query of 10 items, a 90/10
//!    GetItem/PutItem mix) and each connection count, drives dynamo-pg with the HTTP load
//!    generator in `load.rs` for a fixed time, then the same PostgreSQL with pgbench doing the
//!    equivalent SQL for the same time, in alternating rounds (`BENCH_ROUNDS`).
//! 4. Prints one table (throughput, latency, PostgreSQL-alone throughput, ratio, each round's
//!    ratio, the target), where the CPU went, the server's memory, and which targets were
//!    missed, if any.
//!
//! Operations the server does not serve yet are reported as `n/a`; any other error answer fails
//! the benchmark. Everything runs on the same cores (nothing is pinned): the server, PostgreSQL
//! and the load generator (or pgbench) compete for them, as the printed CPU shares show.
//!
//! The scale mode, `BENCH_SCALE=1 cargo bench`, asks another question: do GetItem and Query
//! stay as fast at 10 million items as at 100,000, and does a full Scan stream without holding
//! the table in memory? It loads 100,000 items over HTTP into one table and 10 million straight
//! into PostgreSQL with COPY into another (rows made by the crate's own storage functions,
//! proved equal to what PutItem stores), measures both in alternating rounds, then scans the
//! large table over HTTP while watching the server's RSS; pgbench is not run. See `scale.rs`.
//! At 10 million items it needs some 17 GB of disk in the temporary folder (removed at the end,
//! also on Ctrl-C) and about 9 minutes on 2 cores. The table is read into PostgreSQL's buffer
//! cache first when it fits: give it room with `BENCH_SERVER_ARGS="--shared-buffers-mb 18432"`
//! on a machine of 24 GB (README, At scale, says why the OS cache is not enough).
//!
//! Settings (environment):
//! - `BENCH_QUICK=1`: 10,000 items and 2 s runs, for trying it out (with `BENCH_SCALE=1`:
//!   1,000,000 items).
//! - `BENCH_SCALE=1`: the scale mode (default 10,000,000 items, 16 connections).
//! - `BENCH_ITEMS` (default 100,000), `BENCH_SECS` (default 5), `BENCH_CONNECTIONS` (default
//!   `1,16,64`).
//! - `BENCH_ROUNDS` (default 3, quick 1): each operation runs this many times on each side,
//!   dynamo-pg and pgbench alternating; the table pools the rounds and shows each round's ratio.
//!   On a small shared machine one 5 s run of either side moves 10-20% from the next.
//! - `BENCH_SERVER_ARGS`: extra dynamo-pg flags, e.g. `--pool-size 16 --log-level warn`.
//! - `BENCH_SERVER_BIN`: the dynamo-pg binary to measure (default: the one `cargo bench` built).
//! - `BENCH_CLIENT_THREADS`: OS threads of the load generator (default 1, see `load.rs`).
//! - `BENCH_PGBENCH`: the pgbench binary (default: next to `pg_config --bindir`, or
//!   /usr/lib/postgresql/*/bin/pgbench).
//! - Arguments after `--` select operations by name: `cargo bench -- get query`.

mod copy_load;
mod load;
mod pgbench;
mod scale;
mod server;
mod workload;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use load::{Connection, Plan, RequestSet, RunResult};
use pgbench::{PgBench, Script};
use server::{CpuSample, Server};

/// The benchmark's settings.
struct Config {
    /// The scale mode (see `scale.rs`) instead of the comparison with pgbench.
    scale: bool,
    items: u64,
    secs: u64,
    /// Runs of each operation on each side, alternating (see `run`).
    rounds: usize,
    connections: Vec<usize>,
    server_args: Vec<String>,
    /// Needed by the comparison only, not by the scale mode.
    pgbench: Option<PathBuf>,
    /// Lower-case operation name fragments to run; empty runs all.
    filters: Vec<String>,
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let flag = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        let quick = flag("BENCH_QUICK");
        let scale = flag("BENCH_SCALE");
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("{name}={v} is not a number")),
                Err(_) => Ok(default),
            }
        };
        let default_items = match (scale, quick) {
            (true, true) => 1_000_000,
            (true, false) => 10_000_000,
            (false, true) => 10_000,
            (false, false) => 100_000,
        };
        let items = number("BENCH_ITEMS", default_items)?;
        if scale && items < scale::BASE_ITEMS {
            return Err(format!(
                "BENCH_SCALE needs BENCH_ITEMS of at least {}",
                scale::BASE_ITEMS
            ));
        }
        if items < workload::PER_PARTITION {
            return Err(format!(
                "BENCH_ITEMS must be at least {}",
                workload::PER_PARTITION
            ));
        }
        let secs = number("BENCH_SECS", if quick { 2 } else { 5 })?.max(1);
        let rounds = number("BENCH_ROUNDS", if quick { 1 } else { 3 })?.max(1) as usize;
        let connections = std::env::var("BENCH_CONNECTIONS")
            .unwrap_or_else(|_| if scale { "16" } else { "1,16,64" }.into())
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("BENCH_CONNECTIONS: bad number {c:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let server_args = std::env::var("BENCH_SERVER_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        let pgbench = std::env::var_os("BENCH_PGBENCH")
            .map(PathBuf::from)
            .or_else(find_pgbench);
        if pgbench.is_none() && !scale {
            return Err(
                "pgbench not found: install PostgreSQL's client tools or set BENCH_PGBENCH".into(),
            );
        }
        let filters = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .map(|a| a.to_lowercase())
            .collect();
        Ok(Config {
            scale,
            items,
            secs,
            rounds,
            connections,
            server_args,
            pgbench,
            filters,
        })
    }
}

/// pgbench from `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
fn find_pgbench() -> Option<PathBuf> {
    let from_pg_config = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("pgbench"));
    let mut candidates: Vec<PathBuf> = from_pg_config.into_iter().collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                Some((
                    e.file_name().to_str()?.parse().ok()?,
                    e.path().join("bin/pgbench"),
                ))
            })
            .collect();
        // Newest major version first.
        versions.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// The operations benchmarked, in the order of the table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operation {
    Get,
    Put,
    Update,
    Query,
    Mix,
}

impl Operation {
    const ALL: [Operation; 5] = [
        Operation::Get,
        Operation::Put,
        Operation::Update,
        Operation::Query,
        Operation::Mix,
    ];

    fn label(self) -> &'static str {
        match self {
            Operation::Get => "GetItem",
            Operation::Put => "PutItem",
            Operation::Update => "UpdateItem (n = n + 1, conditional)",
            Operation::Query => "Query (1 partition, 10 items)",
            Operation::Mix => "90% GetItem / 10% PutItem",
        }
    }

    /// The DynamoDB operations it sends.
    fn api_operations(self) -> &'static [&'static str] {
        match self {
            Operation::Get => &["GetItem"],
            Operation::Put => &["PutItem"],
            Operation::Update => &["UpdateItem"],
            Operation::Query => &["Query"],
            Operation::Mix => &["GetItem", "PutItem"],
        }
    }

    /// The pgbench scripts, with weights, that do the same in SQL.
    fn scripts(self) -> Vec<(Script, u32)> {
        match self {
            Operation::Get => vec![(Script::Get, 1)],
            Operation::Put => vec![(Script::Put, 1)],
            Operation::Update => vec![(Script::Update, 1)],
            Operation::Query => vec![(Script::Query, 1)],
            Operation::Mix => vec![(Script::Get, 9), (Script::Put, 1)],
        }
    }

    /// The lowest ratio to PostgreSQL alone this operation should reach: the targets set for a
    /// 2-core machine where server, PostgreSQL and load generator share the cores (README,
    /// Performance). The mix has none of its own.
    fn target_ratio(self) -> Option<f64> {
        match self {
            Operation::Get | Operation::Update | Operation::Query => Some(0.5),
            Operation::Put => Some(0.6),
            Operation::Mix => None,
        }
    }

    /// The p99 latency, in milliseconds, this operation should stay under at `connections`
    /// (the same targets).
    fn target_p99_ms(self, connections: usize) -> Option<f64> {
        (self == Operation::Get && connections == 16).then_some(2.0)
    }

    fn selected(self, filters: &[String]) -> bool {
        let label = self.label().to_lowercase();
        filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
    }
}

/// Pre-built request bodies for every DynamoDB operation the benchmark sends.
struct Bodies {
    get: RequestSet,
    put: RequestSet,
    update: RequestSet,
    query: RequestSet,
}

impl Bodies {
    fn build(items: u64) -> Bodies {
        Bodies {
            get: RequestSet::new("GetItem", workload::bodies(items, workload::get)),
            put: RequestSet::new(
                "PutItem",
                workload::bodies(items, |i| workload::put(i, i + 1)),
            ),
            update: RequestSet::new("UpdateItem", workload::bodies(items, workload::update)),
            query: RequestSet::new(
                "Query",
                workload::bodies(items / workload::PER_PARTITION, |p| {
                    workload::query(p * workload::PER_PARTITION)
                }),
            ),
        }
    }

    fn plan(&self, op: Operation) -> Plan {
        let sets = match op {
            Operation::Get => vec![(self.get.clone(), 1)],
            Operation::Put => vec![(self.put.clone(), 1)],
            Operation::Update => vec![(self.update.clone(), 1)],
            Operation::Query => vec![(self.query.clone(), 1)],
            Operation::Mix => vec![(self.get.clone(), 9), (self.put.clone(), 1)],
        };
        Plan { sets }
    }

    fn set(&self, api_operation: &str) -> &RequestSet {
        match api_operation {
            "GetItem" => &self.get,
            "PutItem" => &self.put,
            "UpdateItem" => &self.update,
            _ => &self.query,
        }
    }
}

/// Where one run's CPU time went, per request (or per pgbench transaction), in microseconds.
#[derive(Clone, Copy, Default)]
struct CpuShare {
    /// The dynamo-pg process.
    server: f64,
    /// The client: the load generator or pgbench.
    client: f64,
    /// PostgreSQL's processes.
    postgres: f64,
    /// Share of the machine busy with anything else (the kernel's interrupt work, other
    /// processes): noise when it is large.
    other_pct: f64,
    /// Share of the machine left idle.
    idle_pct: f64,
}

impl CpuShare {
    fn of(cpu: &CpuSample, server_us: u64, client_us: u64, operations: f64) -> CpuShare {
        let per = |us: u64| us as f64 / operations.max(1.0);
        let total = cpu.machine_total.max(1) as f64;
        let other = cpu
            .machine_busy
            .saturating_sub(server_us + client_us + cpu.postgres);
        CpuShare {
            server: per(server_us),
            client: per(client_us),
            postgres: per(cpu.postgres),
            other_pct: 100.0 * other as f64 / total,
            idle_pct: 100.0 * (1.0 - cpu.machine_busy as f64 / total),
        }
    }

    /// Several runs' shares as one. Each run comes with its operations and its seconds: CPU
    /// per operation is weighted by operations, the other and idle shares by time.
    fn pool(runs: impl Iterator<Item = (CpuShare, f64, f64)> + Clone) -> CpuShare {
        let weighted = |f: fn(&CpuShare) -> f64, by_time: bool| {
            let (sum, weight) = runs
                .clone()
                .fold((0.0, 0.0), |(sum, weight), (c, ops, secs)| {
                    let w = if by_time { secs } else { ops };
                    (sum + f(&c) * w, weight + w)
                });
            sum / f64::max(weight, 1e-9)
        };
        CpuShare {
            server: weighted(|c| c.server, false),
            client: weighted(|c| c.client, false),
            postgres: weighted(|c| c.postgres, false),
            other_pct: weighted(|c| c.other_pct, true),
            idle_pct: weighted(|c| c.idle_pct, true),
        }
    }
}

/// One line of the results.
struct Row {
    op: Operation,
    connections: usize,
    /// All rounds pooled; `None`: the server does not serve the operation yet.
    dynamo: Option<Measurement>,
    /// pgbench's transactions per second and CPU shares, averaged over the rounds.
    postgres: Option<(f64, CpuShare)>,
    /// dynamo-pg's rate over pgbench's, per round (each pair ran back to back).
    round_ratios: Vec<f64>,
}

impl Row {
    /// dynamo-pg's pooled rate over pgbench's.
    fn ratio(&self) -> Option<f64> {
        let (tps, _) = self.postgres.as_ref()?;
        Some(self.dynamo.as_ref()?.result.rate() / tps)
    }

    /// This row's targets ([`Operation::target_ratio`], [`Operation::target_p99_ms`]): what
    /// each asks, and what was measured instead when it was missed.
    fn targets(&self) -> Vec<(String, Option<String>)> {
        let mut targets = Vec::new();
        if let Some(want) = self.op.target_ratio() {
            let ratio = self.ratio();
            let missed = !ratio.is_some_and(|r| r >= want);
            targets.push((
                format!("ratio ≥ {want}"),
                missed.then(|| {
                    format!(
                        "ratio {}",
                        ratio.map_or("n/a".into(), |r| format!("{r:.2}"))
                    )
                }),
            ));
        }
        if let Some(want) = self.op.target_p99_ms(self.connections) {
            let p99 = self.dynamo.as_ref().map(|m| m.result.quantile_ms(0.99));
            let missed = !p99.is_some_and(|ms| ms < want);
            targets.push((
                format!("p99 < {want} ms"),
                missed.then(|| {
                    format!(
                        "p99 {}",
                        p99.map_or("n/a".into(), |ms| format!("{ms:.2} ms"))
                    )
                }),
            ));
        }
        targets
    }
}

/// pgbench's rounds, each `secs` long, as one: the mean rate and the pooled CPU shares.
fn pool_pgbench(runs: &[(f64, CpuShare)], secs: u64) -> Option<(f64, CpuShare)> {
    if runs.is_empty() {
        return None;
    }
    let secs = secs as f64;
    let tps = runs.iter().map(|(tps, _)| tps).sum::<f64>() / runs.len() as f64;
    let cpu = CpuShare::pool(runs.iter().map(|&(tps, c)| (c, tps * secs, secs)));
    Some((tps, cpu))
}

/// Samples the server's RSS every 50 ms while alive and keeps the maximum.
struct RssWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            while !s.load(Ordering::Relaxed) {
                let rss = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|r| r.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
                m.fetch_max(rss, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssWatch { stop, max, thread }
    }

    /// Stops sampling; the largest RSS seen, in KiB.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.max.load(Ordering::Relaxed)
    }
}

/// The benchmark's working folder (server data, logs, pgbench scripts), removed on drop, also
/// when a panic unwinds.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    load::self_check();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let root =
        TempDir(std::env::temp_dir().join(format!("dynamo-pg-bench-{}", std::process::id())));
    // Ctrl-C stops the server (dropping it) and removes the data folder, which in the scale mode
    // holds some 15 GB.
    let result = runtime.block_on(async {
        tokio::select! {
            result = start(&config, &root.0) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    drop(root);
    if let Err(e) = result {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

/// Prints what is measured on what, and runs the comparison or the scale mode.
async fn start(config: &Config, root: &std::path::Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let bin = std::env::var_os("BENCH_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dynamo-pg")));
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if config.scale {
        println!(
            "dynamo-pg at scale: GetItem and Query at {} and at {} items of ~1 KB, {} s per run, connections {:?}, \
             then a full Scan; {cores} cores shared by server, PostgreSQL and client (nothing pinned)",
            scale::BASE_ITEMS,
            config.items,
            config.secs,
            config.connections
        );
    } else {
        println!(
            "dynamo-pg vs PostgreSQL alone: {} items of ~1 KB, {} rounds of {} s per side, connections {:?}, \
             {cores} cores shared by server, PostgreSQL and client (nothing pinned)",
            config.items, config.rounds, config.secs, config.connections
        );
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "server: {}; load average before the run: {}",
        bin.display(),
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !config.server_args.is_empty() {
        println!("server flags: {}", config.server_args.join(" "));
    }
    if config.scale {
        scale::run(config, root, &bin).await
    } else {
        run(config, root, &bin).await
    }
}

/// The comparison with PostgreSQL alone.
async fn run(config: &Config, root: &std::path::Path, bin: &std::path::Path) -> Result<(), String> {
    let pgbench = config.pgbench.clone().ok_or("no pgbench")?;
    let server = Server::start_in(root, bin, &config.server_args).await?;
    let rss_idle = server.rss_kib();

    // The table, the items, and pgbench's copy of them.
    let mut conn = Connection::open(server.addr).await?;
    let (status, answer) = conn
        .call_json("CreateTable", &workload::create_table())
        .await?;
    if !status.is_success() {
        return Err(format!("CreateTable answered {status}: {answer}"));
    }
    wait_active(&mut conn, workload::TABLE).await?;
    drop(conn);
    let started = Instant::now();
    let method = preload(server.addr, config.items).await?;
    let loaded_in = started.elapsed().as_secs_f64();
    let item_size = prepare_postgres(&server, config.items).await?;
    println!(
        "preloaded {} items of {item_size} bytes (DynamoDB's measure) with {method} in {loaded_in:.1} s",
        config.items,
    );
    let rss_loaded = server.rss_kib();
    let pgbench = PgBench {
        bin: pgbench,
        socket_dir: server.socket_dir.clone(),
        dir: root.join("pgbench"),
        items: config.items,
        item_size,
    };

    let bodies = Bodies::build(config.items);
    let duration = Duration::from_secs(config.secs);
    let mut rows = Vec::new();
    let mut rss_max_64 = 0;
    let mut rss_max = 0;
    for op in Operation::ALL
        .into_iter()
        .filter(|op| op.selected(&config.filters))
    {
        let mut supported = true;
        for api_op in op.api_operations() {
            // A fresh connection: the server closes keep-alive connections left idle.
            let mut conn = Connection::open(server.addr).await?;
            supported &= probe(&mut conn, api_op, bodies.set(api_op)).await?;
        }
        for &connections in &config.connections {
            // Rounds alternate between dynamo-pg and pgbench, so that a slow spell of the
            // machine weighs on both sides alike instead of on whichever ran during it.
            let mut dynamo_runs = Vec::new();
            let mut pg_runs = Vec::new();
            for round in 1..=config.rounds {
                let round_label = if config.rounds > 1 {
                    format!(" (round {round} of {})", config.rounds)
                } else {
                    String::new()
                };
                if supported {
                    let m = measure(&server, &bodies.plan(op), connections, duration)
                        .await
                        .map_err(|e| format!("{} at {connections} connections: {e}", op.label()))?;
                    rss_max = rss_max.max(m.rss_peak);
                    if connections == 64 {
                        rss_max_64 = rss_max_64.max(m.rss_peak);
                    }
                    eprintln!(
                        "  {:<40} {connections:>3} conns  dynamo-pg {:>9.0} req/s{round_label}",
                        op.label(),
                        m.result.rate()
                    );
                    dynamo_runs.push(m);
                }
                let before = server.cpu();
                let pg = pgbench.run(&op.scripts(), connections, config.secs)?;
                // pgbench's backends have exited; give the postmaster a moment to reap them,
                // which is when their CPU time is added to its own.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let cpu = server.cpu().since(&before);
                // The idle server and benchmark process count as "other" here.
                let share = CpuShare::of(&cpu, 0, pg.client_cpu_us, pg.tps * config.secs as f64);
                eprintln!(
                    "  {:<40} {connections:>3} conns  PostgreSQL {:>9.0} tx/s{round_label}",
                    op.label(),
                    pg.tps
                );
                pg_runs.push((pg.tps, share));
            }
            let round_ratios = dynamo_runs
                .iter()
                .zip(&pg_runs)
                .map(|(m, (tps, _))| m.result.rate() / tps)
                .collect();
            rows.push(Row {
                op,
                connections,
                dynamo: (!dynamo_runs.is_empty()).then(|| Measurement::pool(dynamo_runs)),
                postgres: pool_pgbench(&pg_runs, config.secs),
                round_ratios,
            });
        }
    }
    let rss_end_peak = server.peak_rss_kib();
    drop(server);

    let mut misses = print_results(&rows);
    println!();
    let under_64 = if config.connections.contains(&64) {
        format!("{:.1} MiB peak under 64 connections, ", mib(rss_max_64))
    } else {
        String::new()
    };
    println!(
        "dynamo-pg RSS: {:.1} MiB idle after start, {:.1} MiB idle after the preload, {under_64}{:.1} MiB peak \
         while measured (VmHWM {:.1} MiB)",
        mib(rss_idle),
        mib(rss_loaded),
        mib(rss_max),
        mib(rss_end_peak)
    );
    if mib(rss_idle) >= 20.0 {
        misses.push(format!(
            "RSS idle after start {:.1} MiB ≥ 20 MiB",
            mib(rss_idle)
        ));
    }
    if config.connections.contains(&64) && mib(rss_max_64) >= 64.0 {
        misses.push(format!(
            "RSS under 64 connections {:.1} MiB ≥ 64 MiB",
            mib(rss_max_64)
        ));
    }
    println!();
    if misses.is_empty() {
        println!("targets (2 cores, README's Performance): all met");
    } else {
        println!("targets (2 cores, README's Performance) missed:");
        for miss in &misses {
            println!("- {miss}");
        }
    }
    Ok(())
}

/// What one load generator run measured.
struct Measurement {
    result: RunResult,
    cpu: CpuShare,
    /// The server's largest RSS seen during the run, in KiB.
    rss_peak: u64,
}

impl Measurement {
    /// Several runs of one measurement as one: requests, time and latencies added up, the CPU
    /// shares pooled ([`CpuShare::pool`]).
    fn pool(runs: Vec<Measurement>) -> Measurement {
        let requests: u64 = runs.iter().map(|m| m.result.requests).sum();
        let elapsed: Duration = runs.iter().map(|m| m.result.elapsed).sum();
        let cpu = CpuShare::pool(runs.iter().map(|m| {
            let r = &m.result;
            (m.cpu, r.requests as f64, r.elapsed.as_secs_f64())
        }));
        let rss_peak = runs.iter().map(|m| m.rss_peak).max().unwrap_or(0);
        let mut latencies_us: Vec<u32> = runs
            .into_iter()
            .flat_map(|m| m.result.latencies_us)
            .collect();
        latencies_us.sort_unstable();
        Measurement {
            result: RunResult {
                requests,
                elapsed,
                latencies_us,
            },
            cpu,
            rss_peak,
        }
    }
}

/// Drives the server with `plan` over `connections` connections for `duration`, measuring
/// where the CPU went and the server's RSS. Opening the connections and serializing the
/// requests happen before the CPU counters are read, so only the run itself is counted.
async fn measure(
    server: &Server,
    plan: &Plan,
    connections: usize,
    duration: Duration,
) -> Result<Measurement, String> {
    let prepared = load::prepare(server.addr, plan, connections)?;
    let watch = RssWatch::start(server.pid());
    let before = server.cpu();
    let result = tokio::task::spawn_blocking(move || prepared.run(duration))
        .await
        .map_err(|e| format!("the load generator panicked: {e}"))??;
    let cpu = server.cpu().since(&before);
    let rss_peak = watch.finish();
    let share = CpuShare::of(&cpu, cpu.server, cpu.generator, result.requests as f64);
    Ok(Measurement {
        result,
        cpu: share,
        rss_peak,
    })
}

/// KiB to MiB.
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Polls DescribeTable until table `name` is ACTIVE, as a DynamoDB client must.
async fn wait_active(conn: &mut Connection, name: &str) -> Result<(), String> {
    for _ in 0..600 {
        let (status, answer) = conn
            .call_json("DescribeTable", &serde_json::json!({"TableName": name}))
            .await?;
        if !status.is_success() {
            return Err(format!("DescribeTable answered {status}: {answer}"));
        }
        if answer["Table"]["TableStatus"] == "ACTIVE" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the table did not become ACTIVE within 60 s".into())
}

/// Sends one request of `api_op`: true if the server serves it, false if it answers
/// UnknownOperationException (not implemented yet). Any other error fails the benchmark.
async fn probe(conn: &mut Connection, api_op: &str, set: &RequestSet) -> Result<bool, String> {
    let (status, answer) = conn.call(&set.target, &set.bodies[0]).await?;
    let json: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    if status.is_success() {
        if api_op == "Query" {
            let count = json["Items"].as_array().map_or(0, Vec::len) as u64;
            if count != workload::PER_PARTITION {
                return Err(format!(
                    "Query returned {count} items, expected {}: {json}",
                    workload::PER_PARTITION
                ));
            }
        }
        return Ok(true);
    }
    let kind = json["__type"].as_str().unwrap_or_default();
    if kind.ends_with("#UnknownOperationException") {
        eprintln!("  {api_op}: not served by this dynamo-pg yet (n/a)");
        return Ok(false);
    }
    Err(format!(
        "{api_op} answered {status}: {}",
        String::from_utf8_lossy(&answer)
    ))
}

/// Loads items `0..items`: BatchWriteItem (25 per request) if the server has it, else PutItem,
/// over 32 connections. Returns the operation used.
async fn preload(addr: std::net::SocketAddr, items: u64) -> Result<&'static str, String> {
    const CONNECTIONS: usize = 32;
    const BATCH: u64 = 25;
    let mut conn = Connection::open(addr).await?;
    let first = workload::batch_write(0..BATCH.min(items));
    let (status, answer) = conn.call_json("BatchWriteItem", &first).await?;
    let batched = if status.is_success() {
        true
    } else if answer["__type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("#UnknownOperationException")
    {
        false
    } else {
        return Err(format!("BatchWriteItem answered {status}: {answer}"));
    };
    let (next, step) = if batched {
        (BATCH.min(items), BATCH)
    } else {
        (0, 1)
    };
    let next = Arc::new(AtomicU64::new(next));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::open(addr).await?;
            loop {
                let start = next.fetch_add(step, Ordering::Relaxed);
                if start >= items {
                    return Ok::<_, String>(());
                }
                let end = (start + step).min(items);
                if batched {
                    let mut request = workload::batch_write(start..end);
                    loop {
                        let (status, answer) = conn.call_json("BatchWriteItem", &request).await?;
                        if !status.is_success() {
                            return Err(format!("BatchWriteItem answered {status}: {answer}"));
                        }
                        let unprocessed = &answer["UnprocessedItems"];
                        if unprocessed.as_object().is_none_or(|m| m.is_empty()) {
                            break;
                        }
                        request = serde_json::json!({ "RequestItems": unprocessed });
                    }
                } else {
                    let (status, answer) = conn
                        .call_json("PutItem", &workload::put(start, start))
                        .await?;
                    if !status.is_success() {
                        return Err(format!("PutItem answered {status}: {answer}"));
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("preload task panicked: {e}"))??;
    }
    Ok(if batched { "BatchWriteItem" } else { "PutItem" })
}

/// Checks the preload through SQL, builds pgbench's copy of the items, and leaves both tables
/// vacuumed, analyzed and checkpointed. Returns the items' DynamoDB size.
async fn prepare_postgres(server: &Server, items: u64) -> Result<i64, String> {
    let conninfo = format!(
        "host={} port=5432 user=dynamo_pg dbname=dynamo_pg",
        server.socket_dir.display()
    );
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to the embedded PostgreSQL: {e}"))?;
    let driver = tokio::spawn(connection);
    let sql_err = |e: tokio_postgres::Error| match e.as_db_error() {
        Some(db) => format!("SQL: {}: {}", db.severity(), db.message()),
        None => format!("SQL: {e}"),
    };
    let table: String = client
        .query_one(
            "SELECT definition->>'pg_table' FROM dynamo_tables WHERE name = $1",
            &[&workload::TABLE],
        )
        .await
        .map_err(sql_err)?
        .get(0);
    let row = client
        .query_one(
            &format!("SELECT count(*), max(size)::int8 FROM {table}"),
            &[],
        )
        .await
        .map_err(sql_err)?;
    let (count, size): (i64, Option<i64>) = (row.get(0), row.get(1));
    if count as u64 != items {
        return Err(format!(
            "the item table holds {count} rows after the preload, expected {items}"
        ));
    }
    client
        .batch_execute(&pgbench::setup_sql(&table))
        .await
        .map_err(sql_err)?;
    // One statement per call: VACUUM refuses to run in the implicit transaction of a batch.
    for sql in [
        format!("VACUUM ANALYZE {table}"),
        format!("VACUUM ANALYZE {}", pgbench::TABLE),
        "CHECKPOINT".into(),
    ] {
        client.batch_execute(&sql).await.map_err(sql_err)?;
    }
    drop(client);
    let _ = driver.await;
    Ok(size.unwrap_or(0))
}

/// Prints the results as Markdown tables (ready for the README); returns the targets missed.
fn print_results(rows: &[Row]) -> Vec<String> {
    let mut misses = Vec::new();
    println!();
    println!(
        "| operation | connections | dynamo-pg req/s | p50 ms | p99 ms | PostgreSQL alone tx/s | ratio \
         | ratio by round | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---|");
    for row in rows {
        let pg = row.postgres.as_ref().map(|(tps, _)| *tps);
        let (rate, p50, p99) = match &row.dynamo {
            Some(m) => (
                format!("{:.0}", m.result.rate()),
                format!("{:.2}", m.result.quantile_ms(0.50)),
                format!("{:.2}", m.result.quantile_ms(0.99)),
            ),
            None => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        let mut target = Vec::new();
        for (wanted, missed) in row.targets() {
            let verdict = if missed.is_some() { "MISSED" } else { "met" };
            target.push(format!("{wanted} {verdict}"));
            if let Some(measured) = missed {
                let (op, n) = (row.op.label(), row.connections);
                misses.push(format!("{op} at {n} connections: {measured}, not {wanted}"));
            }
        }
        let by_round: Vec<String> = row.round_ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| {} | {} | {rate} | {p50} | {p99} | {} | {} | {} | {} |",
            row.op.label(),
            row.connections,
            pg.map_or("-".into(), |t| format!("{t:.0}")),
            row.ratio().map_or("n/a".into(), |r| format!("{r:.2}")),
            by_round.join(" "),
            if target.is_empty() {
                "-".into()
            } else {
                target.join(", ")
            },
        );
    }
    println!();
    println!("CPU time per request (dynamo-pg) or per transaction (PostgreSQL alone), in microseconds, and the");
    println!("share of both cores that was idle or busy with anything else (other processes, interrupts):");
    println!();
    println!(
        "| operation | connections | dynamo-pg: server µs | PostgreSQL µs | load generator µs | other % | idle % \
         | alone: PostgreSQL µs | pgbench µs | other % | idle % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let dynamo = match row.dynamo.as_ref().map(|m| &m.cpu) {
            Some(c) => format!(
                "{:.0} | {:.0} | {:.0} | {:.0} | {:.0}",
                c.server, c.postgres, c.client, c.other_pct, c.idle_pct
            ),
            None => "n/a | n/a | n/a | n/a | n/a".into(),
        };
        let alone = match &row.postgres {
            Some((_, c)) => format!(
                "{:.0} | {:.0} | {:.0} | {:.0}",
                c.postgres, c.client, c.other_pct, c.idle_pct
            ),
            None => "- | - | - | -".into(),
        };
        println!(
            "| {} | {} | {dynamo} | {alone} |",
            row.op.label(),
            row.connections
        );
    }
    misses
}
