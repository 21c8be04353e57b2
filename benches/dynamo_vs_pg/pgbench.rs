//! PostgreSQL alone: pgbench running the SQL that each DynamoDB operation amounts to, on a copy
//! of the benchmark's items, through the embedded server's Unix socket.
//!
//! The copy, `pgbench_items`, has the layout of a dynamo-pg item table (an int leading the
//! primary key, then the partition and sort keys as bytea, the item as jsonb) and the very same
//! rows, except that the int column holds the partition number instead of dynamo-pg's hash, so
//! that a pgbench script can compute it. Writes send the whole ~1 KB item text, which
//! PostgreSQL parses as jsonb on every execution, as dynamo-pg's writes do.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::workload::{pgbench_item_sql, PER_PARTITION};

/// The copy of the benchmark's items that pgbench works on.
pub const TABLE: &str = "pgbench_items";

/// The SQL side of one DynamoDB operation.
#[derive(Clone, Copy, Debug)]
pub enum Script {
    /// A point select of the item by its key.
    Get,
    /// An upsert of the whole item.
    Put,
    /// The read-modify-write of a conditional UpdateItem: `BEGIN; SELECT ... FOR UPDATE;
    /// UPDATE; COMMIT`.
    Update,
    /// The 10 items of one partition, in sort key order.
    Query,
}

impl Script {
    fn file_name(self) -> &'static str {
        match self {
            Script::Get => "get.sql",
            Script::Put => "put.sql",
            Script::Update => "update.sql",
            Script::Query => "query.sql",
        }
    }

    /// The script's text. pgbench variables: `items` and `size` come from `-D`; `i` is a random
    /// item, `p` and `s` its partition and sort key numbers.
    fn text(self) -> String {
        let pick = format!(
            "\\set i random(0, :items - 1)\n\\set p :i / {PER_PARTITION}\n\\set s :i % {PER_PARTITION}\n"
        );
        let key = "h = :p AND pk = convert_to('user#' || :p, 'UTF8') AND sk = convert_to('item#' || :s, 'UTF8')";
        let item = pgbench_item_sql();
        match self {
            Script::Get => format!("{pick}SELECT item FROM {TABLE} WHERE {key};\n"),
            Script::Put => format!(
                "{pick}INSERT INTO {TABLE} (h, pk, sk, size, item) VALUES (:p, convert_to('user#' || :p, 'UTF8'), \
                 convert_to('item#' || :s, 'UTF8'), :size, {item}) \
                 ON CONFLICT (h, pk, sk) DO UPDATE SET size = excluded.size, item = excluded.item;\n"
            ),
            Script::Update => format!(
                "{pick}BEGIN;\nSELECT item FROM {TABLE} WHERE {key} FOR UPDATE;\n\
                 UPDATE {TABLE} SET size = :size, item = {item} WHERE {key};\nCOMMIT;\n"
            ),
            Script::Query => format!(
                "{pick}SELECT item, size FROM {TABLE} WHERE h = :p AND pk = convert_to('user#' || :p, 'UTF8') \
                 ORDER BY sk ASC LIMIT {PER_PARTITION};\n"
            ),
        }
    }
}

/// The DDL and data for [`TABLE`], copied from dynamo-pg's item relation `source`: the partition
/// number is parsed back out of `user#<p>`.
pub fn setup_sql(source: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {TABLE};\n\
         CREATE TABLE {TABLE} (h integer NOT NULL, pk bytea NOT NULL, sk bytea NOT NULL, \
         size integer NOT NULL, item jsonb NOT NULL, PRIMARY KEY (h, pk, sk));\n\
         INSERT INTO {TABLE} SELECT convert_from(substring(pk FROM 6), 'UTF8')::int, pk, sk, size, item \
         FROM {source};\n"
    )
}

/// A pgbench installation pointed at the embedded PostgreSQL.
pub struct PgBench {
    pub bin: PathBuf,
    pub socket_dir: PathBuf,
    /// Where the scripts are written.
    pub dir: PathBuf,
    pub items: u64,
    /// The DynamoDB size of an item, stored by the write scripts.
    pub item_size: i64,
}

/// What one pgbench run reported.
pub struct PgRun {
    /// Transactions (script executions) per second, without connection time.
    pub tps: f64,
    /// pgbench's CPU time, in microseconds.
    pub client_cpu_us: u64,
}

impl PgBench {
    /// Runs the weighted `scripts` with `clients` connections for `secs` seconds, with
    /// prepared statements, one pgbench thread per core at most.
    pub fn run(
        &self,
        scripts: &[(Script, u32)],
        clients: usize,
        secs: u64,
    ) -> Result<PgRun, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let threads = clients.min(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-n", "-M", "prepared", "-p", "5432", "-U", "dynamo_pg"])
            .arg("-h")
            .arg(&self.socket_dir)
            .arg(format!("-c{clients}"))
            .arg(format!("-j{threads}"))
            .arg(format!("-T{secs}"))
            .arg(format!("-Ditems={}", self.items))
            .arg(format!("-Dsize={}", self.item_size));
        for (script, weight) in scripts {
            let path = self.dir.join(script.file_name());
            write_if_changed(&path, &script.text())?;
            cmd.arg("-f").arg(format!("{}@{weight}", path.display()));
        }
        cmd.arg("dynamo_pg");
        let before = children_cpu_us();
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let client_cpu_us = children_cpu_us().saturating_sub(before);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "pgbench failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if let Some(failed) = stdout
            .lines()
            .find_map(|l| l.strip_prefix("number of failed transactions: "))
            .and_then(|rest| rest.split_whitespace().next())
        {
            if failed != "0" {
                return Err(format!("pgbench reported failed transactions:\n{stdout}"));
            }
        }
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no tps in pgbench's output:\n{stdout}"))?;
        Ok(PgRun { tps, client_cpu_us })
    }
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// CPU time (user + system) of this process's waited-for children, in microseconds.
fn children_cpu_us() -> u64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_CHILDREN has no other preconditions.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}
