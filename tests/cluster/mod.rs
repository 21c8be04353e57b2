//! Several dynamo-pg servers on one PostgreSQL, for tests of work shared between instances (TTL
//! sweeping) and of state the test inspects in the database (stream trimming).
//!
//! The first server runs its embedded PostgreSQL in a data folder chosen here, so its socket is
//! known; the others get `--database-url` pointing at it. With `DYNAMO_PG_TEST_DATABASE_URL`
//! set, every server uses that database instead. Each server is a child that gets SIGTERM when
//! the test process ends (and then stops its PostgreSQL cleanly), as in `tests/support`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use aws_credential_types::Credentials;

/// Servers sharing one database.
pub struct Cluster {
    /// tokio-postgres connection string of the shared database.
    pub database_url: String,
    /// Base URLs of the servers, in start order.
    pub endpoints: Vec<String>,
}

/// Starts `n` servers on one database, each with `envs` in its environment (worker intervals,
/// say).
pub fn start(n: usize, envs: &[(&str, &str)]) -> Cluster {
    let external = std::env::var("DYNAMO_PG_TEST_DATABASE_URL").ok();
    let mut endpoints = Vec::new();
    let database_url = match external {
        Some(url) => url,
        None => {
            remove_stale_data_dirs();
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "dpg-cluster-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let dir_arg = dir.display().to_string();
            endpoints.push(spawn(&["--data-dir", &dir_arg], envs));
            format!(
                "host={} port=5432 user=dynamo_pg dbname=dynamo_pg",
                dir.display()
            )
        }
    };
    while endpoints.len() < n {
        endpoints.push(spawn(&["--database-url", &database_url], envs));
    }
    Cluster {
        database_url,
        endpoints,
    }
}

impl Cluster {
    /// A connection to the shared database, for checks the API cannot make.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

/// Removes the data folders of earlier test processes that have ended (their servers stopped
/// with them), which nothing else would clean up.
fn remove_stale_data_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("dpg-cluster-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A DynamoDB client for `endpoint`.
pub fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A DynamoDB Streams client for `endpoint` (the same endpoint serves both APIs).
pub fn streams(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let conf = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(conf)
}

/// Starts one server and returns its URL once it listens.
fn spawn(args: &[&str], envs: &[(&str, &str)]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (tx, rx) = mpsc::channel();
    // The child's parent-death signal fires when this thread ends, so it lives as long as the
    // test process.
    std::thread::spawn(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dynamo-pg"));
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "error",
            "--pool-size",
            "8",
        ])
        .args(&args)
        .envs(envs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        // SAFETY: prctl in the child between fork and exec; no allocation.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                tx.send(Err(format!("cannot start dynamo-pg: {e}"))).ok();
                return;
            }
        };
        let Some(stdout) = child.stdout.take() else {
            tx.send(Err("no stdout".to_string())).ok();
            return;
        };
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            if let Some(url) = line.strip_prefix("dynamo-pg listening on ") {
                tx.send(Ok(url.trim().to_string())).ok();
                sent = true;
                break;
            }
        }
        if !sent {
            let status = child.wait();
            tx.send(Err(format!(
                "dynamo-pg exited before listening: {status:?}"
            )))
            .ok();
            return;
        }
        for _ in lines {}
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    rx.recv()
        .expect("server thread")
        .expect("dynamo-pg did not start")
}
