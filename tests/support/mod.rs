//! Test support: one dynamo-pg server per test binary, started from the built binary with its
//! own embedded PostgreSQL in a temporary folder (or against `DYNAMO_PG_TEST_DATABASE_URL`), so
//! `cargo test` needs nothing running. Tests talk to it over real HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The base URL of the shared test server, starting it on first use.
pub async fn endpoint() -> String {
    ENDPOINT.get_or_init(|| start_server(0, &[]).0).clone()
}

/// A tokio-postgres connection string for the shared test server's PostgreSQL (its embedded
/// one listens on a Unix socket in its data folder), for tests that look underneath.
pub async fn pg_conninfo() -> String {
    endpoint().await;
    if let Ok(url) = std::env::var("DYNAMO_PG_TEST_DATABASE_URL") {
        return url;
    }
    embedded_conninfo(&data_dir(0))
}

/// Starts another server, with extra command-line arguments, for tests that need a different
/// configuration (credentials, say). It lives until the test process ends.
pub fn start_server_with(args: &[&str]) -> String {
    start_server(next_server(), args).0
}

/// [`start_server_with`], also giving a connection string for the new server's own embedded
/// PostgreSQL, for tests of how it is started (not meaningful with
/// `DYNAMO_PG_TEST_DATABASE_URL`, which every server shares).
pub fn start_embedded_server_with(args: &[&str]) -> (String, String) {
    let (endpoint, dir) = start_server(next_server(), args);
    (endpoint, embedded_conninfo(&dir))
}

/// A number for another server (its data folder's): 0 is the shared one's, whenever it starts.
fn next_server() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SERVERS: AtomicUsize = AtomicUsize::new(1);
    SERVERS.fetch_add(1, Ordering::Relaxed)
}

/// The data folder of this process's `n`th server.
fn data_dir(n: usize) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dynamo-pg-test-{}-{n}", std::process::id()))
}

/// A connection string for the embedded PostgreSQL in `data_dir` (it listens on a Unix socket
/// there).
fn embedded_conninfo(data_dir: &std::path::Path) -> String {
    format!(
        "host={} port=5432 user=dynamo_pg dbname=dynamo_pg",
        data_dir.display()
    )
}

/// A Rust SDK client for `endpoint` signing with the given keys.
pub fn client_for(endpoint: &str, access_key_id: &str, secret: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A Rust SDK client pointed at the test server, as a user would configure it.
pub async fn client() -> aws_sdk_dynamodb::Client {
    let endpoint = endpoint().await;
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// An AttributeDefinition, for building CreateTable requests in tests.
pub fn attr(
    name: &str,
    ty: aws_sdk_dynamodb::types::ScalarAttributeType,
) -> aws_sdk_dynamodb::types::AttributeDefinition {
    aws_sdk_dynamodb::types::AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ty)
        .build()
        .unwrap()
}

/// A KeySchemaElement, for building CreateTable requests in tests.
pub fn key(
    name: &str,
    ty: aws_sdk_dynamodb::types::KeyType,
) -> aws_sdk_dynamodb::types::KeySchemaElement {
    aws_sdk_dynamodb::types::KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(ty)
        .build()
        .unwrap()
}

/// A global secondary index on `keys` (name, HASH or RANGE, in order) with the given
/// projection type, for building CreateTable requests in tests.
pub fn gsi(
    name: &str,
    keys: &[(&str, aws_sdk_dynamodb::types::KeyType)],
    projection: aws_sdk_dynamodb::types::ProjectionType,
) -> aws_sdk_dynamodb::types::GlobalSecondaryIndex {
    keys.iter()
        .fold(
            aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder().index_name(name),
            |b, (attr, ty)| b.key_schema(key(attr, ty.clone())),
        )
        .projection(index_projection(projection))
        .build()
        .unwrap()
}

/// A local secondary index, as [`gsi`].
pub fn lsi(
    name: &str,
    keys: &[(&str, aws_sdk_dynamodb::types::KeyType)],
    projection: aws_sdk_dynamodb::types::ProjectionType,
) -> aws_sdk_dynamodb::types::LocalSecondaryIndex {
    keys.iter()
        .fold(
            aws_sdk_dynamodb::types::LocalSecondaryIndex::builder().index_name(name),
            |b, (attr, ty)| b.key_schema(key(attr, ty.clone())),
        )
        .projection(index_projection(projection))
        .build()
        .unwrap()
}

fn index_projection(
    projection: aws_sdk_dynamodb::types::ProjectionType,
) -> aws_sdk_dynamodb::types::Projection {
    aws_sdk_dynamodb::types::Projection::builder()
        .projection_type(projection)
        .build()
}

/// Creates an on-demand table keyed by `pk` (S) and, when `range` is given, `sk` of that type;
/// returns its (unique) name.
pub async fn pk_table(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    range: Option<aws_sdk_dynamodb::types::ScalarAttributeType>,
) -> String {
    use aws_sdk_dynamodb::types::{BillingMode, KeyType, ScalarAttributeType};
    let name = table_name(prefix);
    let mut req = client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest);
    if let Some(ty) = range {
        req = req
            .attribute_definitions(attr("sk", ty))
            .key_schema(key("sk", KeyType::Range));
    }
    req.send().await.expect("create table");
    name
}

/// A table name unique to this test run, so tests in one binary never collide.
pub fn table_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts server number `n` (its data folder is [`data_dir`]`(n)`) on a dedicated thread that
/// lives as long as the test process: the child gets SIGTERM (and stops its PostgreSQL
/// cleanly) when that thread, i.e. the process, ends. The first call of a process first
/// removes what earlier ones left behind.
fn start_server(n: usize, extra_args: &[&str]) -> (String, std::path::PathBuf) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(remove_stale_data_dirs);
    let extra: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
    let (tx, rx) = mpsc::channel();
    let data_dir = data_dir(n);
    let dir = data_dir.clone();
    std::thread::spawn(move || {
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dynamo-pg"));
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "error",
            "--pool-size",
            "8",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(&extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Ok(url) = std::env::var("DYNAMO_PG_TEST_DATABASE_URL") {
            cmd.args(["--database-url", &url]);
        }
        // SAFETY: prctl in the child between fork and exec; no allocation.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start dynamo-pg");
        let stdout = child.stdout.take().expect("stdout");
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
        // Keep draining stdout and keep this thread (the child's parent thread) alive.
        for _ in lines {}
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&data_dir);
        loop {
            std::thread::park();
        }
    });
    let endpoint = rx
        .recv()
        .expect("server thread")
        .expect("dynamo-pg did not start");
    (endpoint, dir)
}

/// Removes the data folders that earlier test processes left in the temporary folder.
///
/// A test process cannot clean up after itself: it ends when its last test does, and its
/// servers (which get SIGTERM then, see [`start_server`]) stop their PostgreSQL after it is gone.
/// So each process removes the folders of processes that are no longer running and whose
/// PostgreSQL has stopped (it removes `postmaster.pid` when it shuts down; a crashed one leaves
/// the file naming a process that is gone). Without this every run left 50-300 MB behind.
fn remove_stale_data_dirs() {
    let alive = |pid: &str| std::path::Path::new("/proc").join(pid.trim()).exists();
    if !alive("self") {
        return; // no procfs to tell which processes run: leave everything
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dynamo-pg-test-"))
        else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        if pid.parse::<u32>().is_err() || alive(pid) {
            continue;
        }
        let postmaster = std::fs::read_to_string(entry.path().join("pgdata/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::to_string));
        if postmaster.is_some_and(|pid| alive(&pid)) {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// Runs `task(0)` .. `task(n - 1)` at once, each as its own tokio task (so on all the test
/// runtime's threads), and waits for them all; a panic in any fails the caller.
pub async fn concurrently<F, Fut>(n: usize, task: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    for task in tasks {
        task.await.expect("a concurrent task failed");
    }
}

/// A counter or gauge without labels from `/metrics`; 0 when absent.
pub async fn metric(name: &str) -> f64 {
    let (status, _, body) = raw("GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// A raw HTTP request to the server: (status, headers, body). For protocol-level tests.
pub async fn raw(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    raw_to(&endpoint().await, method, path, headers, body).await
}

/// [`raw`] against a given server.
pub async fn raw_to(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < pos + 4 + size {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[pos + 4 + size..];
    }
    out
}

/// A signed-looking DynamoDB JSON request over raw HTTP: (status, parsed body).
pub async fn call(op: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let target = format!("DynamoDB_20120810.{op}");
    let (status, _, bytes) = raw(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", &target),
            ("X-Amz-Date", "20260101T000000Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
