//! Ready to operate: TLS (ALPN h2 and http/1.1, certificate reload on SIGHUP), h2c, HTTP/1.1
//! keep-alive, gzip both ways (and boto3 checking x-amz-crc32 over it), the 16 MB body limit,
//! slow and malformed clients, /metrics, health checks, JSON request logs, graceful shutdown,
//! and a PostgreSQL outage under write load.
//!
//! Every test runs real `dynamo-pg` processes against a PostgreSQL this file starts itself
//! (initdb into a temporary folder, as the `postgres` user when run as root), so that the
//! outage test can stop and restart it. Child processes get a parent-death signal from a
//! spawner thread that lives as long as the test process, so nothing outlives the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

// ---------------------------------------------------------------------------------------------
// Processes

type SpawnRequest = (Command, i32, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` so that it receives `death_signal` when the test process ends.
fn spawn_child(cmd: Command, death_signal: i32) -> Child {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // PR_SET_PDEATHSIG fires when the spawning *thread* exits: this one never does.
        std::thread::spawn(move || {
            for (mut cmd, signal, reply) in rx {
                // SAFETY: prctl between fork and exec; no allocation.
                unsafe {
                    use std::os::unix::process::CommandExt;
                    cmd.pre_exec(move || {
                        libc::prctl(libc::PR_SET_PDEATHSIG, signal);
                        Ok(())
                    });
                }
                let _ = reply.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap()
        .send((cmd, death_signal, reply_tx))
        .unwrap();
    reply_rx.recv().unwrap().expect("spawn child process")
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: signalling a child process of ours.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn unique() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A private PostgreSQL cluster listening on a Unix socket in its own folder.
struct Pg {
    bindir: PathBuf,
    root: PathBuf,
    run_as: Option<(u32, u32)>,
    postmaster: Mutex<Option<Child>>,
}

impl Pg {
    fn new() -> Pg {
        let bindir = dynamo_pg::embedded_pg::server_bindir().expect("PostgreSQL server binaries");
        let root =
            std::env::temp_dir().join(format!("dpg-ops-{}-{}", std::process::id(), unique()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let run_as = postgres_user();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = Command::new(bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(root.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_user(&mut initdb, run_as);
        assert!(initdb.status().unwrap().success(), "initdb failed");
        let pg = Pg {
            bindir,
            root,
            run_as,
            postmaster: Mutex::new(None),
        };
        pg.start();
        pg
    }

    fn url(&self) -> String {
        format!(
            "host={} port=5432 user=postgres dbname=postgres",
            self.root.display()
        )
    }

    fn start(&self) {
        let mut cmd = Command::new(self.bindir.join("postgres"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postgres.log"))
            .unwrap();
        cmd.arg("-D")
            .arg(self.root.join("data"))
            .arg("-k")
            .arg(&self.root)
            .args([
                "-p",
                "5432",
                "-c",
                "listen_addresses=",
                "-c",
                "max_connections=100",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        as_user(&mut cmd, self.run_as);
        // SIGINT: PostgreSQL's fast shutdown, when the test process ends.
        let child = spawn_child(cmd, libc::SIGINT);
        *self.postmaster.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bindir.join("pg_isready"))
                .arg("-h")
                .arg(&self.root)
                .args(["-p", "5432", "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; see {}/postgres.log",
                self.root.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Immediate shutdown (SIGQUIT): what a crash looks like to clients; committed work must
    /// survive through crash recovery at the next start.
    fn crash(&self) {
        if let Some(mut child) = self.postmaster.lock().unwrap().take() {
            signal(child.id(), libc::SIGQUIT);
            assert!(
                wait_exit(&mut child, Duration::from_secs(20)).is_some(),
                "PostgreSQL did not stop"
            );
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(mut child) = self.postmaster.lock().unwrap().take() {
            signal(child.id(), libc::SIGINT);
            let _ = wait_exit(&mut child, Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == "postgres").then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
    })
}

fn as_user(cmd: &mut Command, run_as: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    }
}

/// The cluster most tests share (the outage test has its own).
fn shared_pg() -> &'static Pg {
    static PG: OnceLock<Pg> = OnceLock::new();
    PG.get_or_init(Pg::new)
}

/// A running dynamo-pg.
struct Server {
    /// `http://127.0.0.1:PORT` or `https://...`.
    base: String,
    /// `127.0.0.1:PORT`.
    addr: String,
    child: Child,
    /// Everything it wrote to stderr so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(database_url: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dynamo-pg"));
        cmd.args(["--listen", "127.0.0.1:0", "--pool-size", "4"])
            .args(["--database-url", database_url])
            .args(args)
            .args(if args.contains(&"--log-level") {
                &[][..]
            } else {
                &["--log-level", "error"][..]
            })
            .env_remove("DYNAMO_PG_DATABASE_URL")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_child(cmd, libc::SIGTERM);
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("dynamo-pg listening on ") {
                    let _ = tx.send(url.trim().to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => panic!("dynamo-pg did not start: {:?}", log.lock().unwrap()),
        };
        let addr = base.split("://").nth(1).unwrap().to_string();
        Server {
            base,
            addr,
            child,
            log,
        }
    }

    fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        signal(self.child.id(), libc::SIGTERM);
        if wait_exit(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain-HTTP server on the shared cluster, for the tests that need no special settings.
fn shared_server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&shared_pg().url(), &[]))
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

/// A well-formed (not verified) signature: servers without configured keys accept it.
const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/dynamodb/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abc";

fn api_request(uri: &str, op: &str, body: &Value) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post(uri)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

type Pool = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A keep-alive HTTP/1.1 client.
fn pool() -> Pool {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// (status, headers, body) of one API call.
async fn call(pool: &Pool, base: &str, op: &str, body: Value) -> (u16, hyper::HeaderMap, Bytes) {
    let resp = pool
        .request(api_request(&format!("{base}/"), op, &body))
        .await
        .expect("HTTP request");
    let (parts, body) = resp.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        body.collect().await.expect("body").to_bytes(),
    )
}

async fn call_json(pool: &Pool, base: &str, op: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = call(pool, base, op, body).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn get(pool: &Pool, url: &str) -> (u16, hyper::HeaderMap, Bytes) {
    let req = hyper::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = pool.request(req).await.expect("HTTP request");
    let (parts, body) = resp.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

async fn create_table(pool: &Pool, base: &str, name: &str) {
    let (status, body) = call_json(
        pool,
        base,
        "CreateTable",
        json!({
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .await;
    assert_eq!(status, 200, "CreateTable: {body}");
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn gunzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Reads one HTTP/1.1 response (with a Content-Length body) from a raw stream: (status, head,
/// body), or `None` if the connection closed first.
async fn read_response(stream: &mut tokio::net::TcpStream) -> Option<(u16, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((status, head, body))
}

/// Waits for the peer to close: true if it did within `limit` (any bytes before are ignored).
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

fn raw_api_head(addr: &str, op: &str, length: usize, extra: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.{op}\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\n\
         Content-Length: {length}\r\n{extra}\r\n"
    )
}

// ---------------------------------------------------------------------------------------------
// TLS

struct TestCert {
    der: rustls::pki_types::CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn make_cert(names: &[&str]) -> TestCert {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    TestCert {
        der: certified.cert.der().clone(),
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
    }
}

fn tls_connector(trusted: &[&TestCert], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.der.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    addr: &str,
    connector: &tokio_rustls::TlsConnector,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake")
}

#[tokio::test]
async fn tls_serves_http2_and_http1_by_alpn_and_reloads_its_certificate_on_sighup() {
    let dir = tempdir("tls");
    let first = make_cert(&["localhost", "127.0.0.1"]);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &first.cert_pem).unwrap();
    std::fs::write(&key_path, &first.key_pem).unwrap();
    let server = Server::start(
        &shared_pg().url(),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
            "--access-key-id",
            "AKIDOPS",
            "--secret-access-key",
            "ops-secret",
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);

    // ALPN h2: HTTP/2 over TLS.
    let connector = tls_connector(&[&first], &[b"h2", b"http/1.1"]);
    let stream = tls_connect(&server.addr, &connector).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let uri = format!(
        "https://localhost:{}/",
        server.addr.split(':').nth(1).unwrap()
    );
    let resp = h2
        .send_request(
            hyper::Request::get(&uri)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"healthy: localhost:"), "{body:?}");
    // An API call over h2 reaches the pipeline (unsigned, so refused as DynamoDB refuses it).
    let unsigned = hyper::Request::post(&uri)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let resp = h2.send_request(unsigned).await.unwrap();
    assert_eq!(resp.status(), 400);
    let crc: u32 = header(resp.headers(), "x-amz-crc32")
        .unwrap()
        .parse()
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(crc, crc32fast::hash(&body));
    assert!(String::from_utf8_lossy(&body).contains("MissingAuthenticationTokenException"));

    // ALPN http/1.1 only: HTTP/1.1 over TLS.
    let connector = tls_connector(&[&first], &[b"http/1.1"]);
    let stream = tls_connect(&server.addr, &connector).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = h1
        .send_request(
            hyper::Request::get("/health/live")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_11);
    assert_eq!(resp.status(), 200);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/"),
        "plain HTTP answered over the TLS port"
    );

    // boto3 (when installed) over TLS, signing for real, with gzip both ways.
    run_boto3(&server.base, &cert_path, "AKIDOPS", "ops-secret").await;

    // A renewed certificate is picked up on SIGHUP by new connections.
    let second = make_cert(&["localhost", "127.0.0.1", "renewed.test"]);
    std::fs::write(&cert_path, &second.cert_pem).unwrap();
    std::fs::write(&key_path, &second.key_pem).unwrap();
    signal(server.child.id(), libc::SIGHUP);
    let connector = tls_connector(&[&first, &second], &[b"http/1.1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stream = tls_connect(&server.addr, &connector).await;
        let presented = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
        if presented == second.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("dpg-ops-{tag}-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// boto3 against `base` with a real signature over a gzipped body, asking for gzipped
/// responses; botocore's own CRC32 check (legacy retry mode, one attempt: a mismatch raises)
/// runs on the raw response, and the script checks the CRC of the wire bytes itself.
async fn run_boto3(base: &str, ca: &Path, key_id: &str, secret: &str) {
    let python_ok = Command::new("python3")
        .args(["-c", "import boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !python_ok {
        eprintln!("note: python3 with boto3 not found; skipping the boto3 gzip/CRC32 check");
        return;
    }
    let script = r#"
import gzip, json, sys, zlib
import boto3
from botocore.config import Config

endpoint, ca, key_id, secret, table = sys.argv[1:6]
seen = {"gzipped_requests": 0, "gzipped_responses": 0, "crc_checked": 0}

def gzip_request(request, **kwargs):
    data = request.data if isinstance(request.data, bytes) else request.data.encode()
    request.data = gzip.compress(data)
    request.headers["Content-Encoding"] = "gzip"
    request.headers["Accept-Encoding"] = "gzip"
    seen["gzipped_requests"] += 1

def gunzip_response(response_dict, **kwargs):
    headers = response_dict["headers"]
    raw = response_dict["body"]
    assert zlib.crc32(raw) & 0xFFFFFFFF == int(headers["x-amz-crc32"]), "x-amz-crc32 is not over the wire bytes"
    seen["crc_checked"] += 1
    if headers.get("content-encoding") == "gzip":
        seen["gzipped_responses"] += 1
        response_dict["body"] = gzip.decompress(raw)

ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", verify=ca,
                   aws_access_key_id=key_id, aws_secret_access_key=secret,
                   config=Config(retries={"mode": "legacy", "total_max_attempts": 1}))
ddb.meta.events.register_first("before-sign.dynamodb.*", gzip_request)
ddb.meta.events.register("before-parse.dynamodb.*", gunzip_response)
ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
item = {"pk": {"S": "boto3"}, "text": {"S": "x" * 5000}, "n": {"N": "42"}}
ddb.put_item(TableName=table, Item=item)
got = ddb.get_item(TableName=table, Key={"pk": {"S": "boto3"}}, ConsistentRead=True)["Item"]
assert got == item, got
try:
    ddb.describe_table(TableName=table + "-missing")
    raise SystemExit("expected ResourceNotFoundException")
except ddb.exceptions.ResourceNotFoundException:
    pass
print(json.dumps(seen))
"#;
    let table = format!("ops_boto3_{}", std::process::id());
    let out = tokio::process::Command::new("python3")
        .args([
            "-c",
            script,
            base,
            ca.to_str().unwrap(),
            key_id,
            secret,
            &table,
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(seen["gzipped_requests"], 4, "{seen}");
    assert_eq!(seen["gzipped_responses"], 4, "{seen}");
    assert_eq!(seen["crc_checked"], 4, "{seen}");
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP: h2c, keep-alive, gzip, limits

#[tokio::test]
async fn h2c_with_prior_knowledge_and_http1_keep_alive() {
    let server = shared_server();
    // HTTP/2 without TLS: the client starts with the HTTP/2 preface.
    let tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..2 {
        let resp = h2
            .send_request(api_request(
                &format!("{}/", server.base),
                "ListTables",
                &json!({}),
            ))
            .await
            .unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let crc: u32 = header(resp.headers(), "x-amz-crc32")
            .unwrap()
            .parse()
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(crc, crc32fast::hash(&body));
    }
    // HTTP/1.1: two requests on one connection.
    let mut tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    for _ in 0..2 {
        tcp.write_all(raw_api_head(&server.addr, "ListTables", 2, "").as_bytes())
            .await
            .unwrap();
        tcp.write_all(b"{}").await.unwrap();
        let (status, _, body) = read_response(&mut tcp)
            .await
            .expect("a response on the kept-alive connection");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
}

#[tokio::test]
async fn gzip_request_and_response_bodies() {
    let server = shared_server();
    let pool = pool();
    let table = format!("ops_gzip_{}", std::process::id());
    create_table(&pool, &server.base, &table).await;
    let item = json!({"pk": {"S": "k"}, "text": {"S": "abc".repeat(2000)}});

    // A gzipped request body.
    let put = json!({"TableName": table, "Item": item});
    let mut req = api_request(&format!("{}/", server.base), "PutItem", &json!({}));
    *req.body_mut() = Full::new(Bytes::from(gzip_bytes(put.to_string().as_bytes())));
    req.headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    let resp = pool.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);

    // A gzipped response, its CRC32 over the compressed bytes.
    let mut req = api_request(
        &format!("{}/", server.base),
        "GetItem",
        &json!({"TableName": table, "Key": {"pk": {"S": "k"}}, "ConsistentRead": true}),
    );
    req.headers_mut()
        .insert("accept-encoding", "br;q=1.0, gzip;q=0.8".parse().unwrap());
    let resp = pool.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "content-encoding"), Some("gzip"));
    let crc: u32 = header(resp.headers(), "x-amz-crc32")
        .unwrap()
        .parse()
        .unwrap();
    let wire = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        crc,
        crc32fast::hash(&wire),
        "x-amz-crc32 covers the bytes on the wire"
    );
    let body: Value = serde_json::from_slice(&gunzip_bytes(&wire)).unwrap();
    assert_eq!(body["Item"], item);
    assert!(
        wire.len() < 1000,
        "6 KB of repeated text compresses: {} bytes",
        wire.len()
    );

    // Errors are compressed too; without Accept-Encoding nothing is.
    let mut req = api_request(
        &format!("{}/", server.base),
        "DescribeTable",
        &json!({"TableName": "ops_missing"}),
    );
    req.headers_mut()
        .insert("accept-encoding", "gzip".parse().unwrap());
    let resp = pool.request(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(resp.headers(), "content-encoding"), Some("gzip"));
    let wire = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&gunzip_bytes(&wire)).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    );
    let (_, headers, _) = call(&pool, &server.base, "ListTables", json!({})).await;
    assert_eq!(header(&headers, "content-encoding"), None);

    // A body that is not gzip, and a coding we do not speak.
    let mut req = api_request(&format!("{}/", server.base), "ListTables", &json!({}));
    req.headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    let resp = pool.request(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    let mut req = api_request(&format!("{}/", server.base), "ListTables", &json!({}));
    req.headers_mut()
        .insert("content-encoding", "br".parse().unwrap());
    assert_eq!(pool.request(req).await.unwrap().status(), 400);
}

#[tokio::test]
async fn bodies_over_16_mb_get_413() {
    const LIMIT: usize = 16 * 1024 * 1024;
    let server = shared_server();
    // Declared too large: refused before the body is sent.
    let mut tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(raw_api_head(&server.addr, "PutItem", LIMIT + 1, "").as_bytes())
        .await
        .unwrap();
    let (status, head, body) = read_response(&mut tcp).await.expect("413");
    assert_eq!(status, 413, "{head}");
    assert!(body.is_empty());
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );

    // Streamed (chunked) past the limit.
    let pool = pool();
    let big = Bytes::from(vec![b' '; LIMIT + 1]);
    let stream = futures_util::stream::iter(
        big.chunks(1 << 20)
            .map(|c| {
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::copy_from_slice(
                    c,
                )))
            })
            .collect::<Vec<_>>(),
    );
    let req = hyper::Request::post(format!("{}/", server.base))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .header("authorization", AUTH)
        .header("x-amz-date", "20260101T000000Z")
        .body(http_body_util::StreamBody::new(stream))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    match client.request(req).await {
        Ok(resp) => assert_eq!(resp.status(), 413),
        // The server may close before the client finished sending; that is a refusal too.
        Err(e) => eprintln!("note: oversized streamed body ended with a transport error: {e}"),
    }

    // A small gzip body that inflates past the limit.
    let bomb = gzip_bytes(&vec![b' '; LIMIT + 1]);
    assert!(bomb.len() < 100_000);
    let mut req = api_request(&format!("{}/", server.base), "PutItem", &json!({}));
    *req.body_mut() = Full::new(Bytes::from(bomb));
    req.headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    assert_eq!(pool.request(req).await.unwrap().status(), 413);

    // Exactly 16 MB is read (and then refused as a bad request, not as too large).
    let mut req = api_request(&format!("{}/", server.base), "PutItem", &json!({}));
    *req.body_mut() = Full::new(Bytes::from(vec![b' '; LIMIT]));
    assert_eq!(pool.request(req).await.unwrap().status(), 400);
}

#[tokio::test]
async fn slow_silent_and_malformed_clients_are_cut_off() {
    let server = Server::start(
        &shared_pg().url(),
        &["--header-timeout", "1", "--body-timeout", "1"],
    );
    let addr = server.addr.as_str();

    // Connects and says nothing.
    let started = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "a silent connection stayed open"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Sends half a header and stalls.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Ty")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "a stalled header kept its connection"
    );

    // Sends the headers and part of the body: 408 RequestTimeoutException.
    let mut slow_body = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow_body
        .write_all(raw_api_head(addr, "ListTables", 100, "").as_bytes())
        .await
        .unwrap();
    slow_body.write_all(b"{\"Limit\":").await.unwrap();
    let started = Instant::now();
    let (status, head, body) = read_response(&mut slow_body).await.expect("408");
    assert_eq!(status, 408, "{head}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#RequestTimeoutException"
    );
    assert!(closed_within(&mut slow_body, Duration::from_secs(5)).await);

    // Not HTTP at all.
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"HELLO THERE\r\n\r\n").await.unwrap();
    let (status, _, _) = read_response(&mut garbage).await.expect("400");
    assert_eq!(status, 400);
    let mut bad_header = tokio::net::TcpStream::connect(addr).await.unwrap();
    bad_header
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n")
        .await
        .unwrap();
    let (status, _, _) = read_response(&mut bad_header).await.expect("400");
    assert_eq!(status, 400);

    // An idle keep-alive connection is closed; so is an idle HTTP/2 one (with a GOAWAY).
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.unwrap().0, 200);
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let resp = h2
        .send_request(api_request(
            &format!("{}/", server.base),
            "ListTables",
            &json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection stayed open");
}

// ---------------------------------------------------------------------------------------------
// Metrics, health, logs

#[tokio::test]
async fn metrics_and_health_endpoints() {
    let server = shared_server();
    let pool = pool();
    let (status, _, body) = get(&pool, &format!("{}/health/live", server.base)).await;
    assert_eq!((status, &body[..]), (200, &b"ok\n"[..]));
    let (status, _, body) = get(&pool, &format!("{}/health/ready", server.base)).await;
    assert_eq!((status, &body[..]), (200, &b"ready\n"[..]));
    let (status, _, body) = get(&pool, &format!("{}/", server.base)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"healthy: 127.0.0.1:"));

    for _ in 0..3 {
        assert_eq!(
            call(&pool, &server.base, "ListTables", json!({})).await.0,
            200
        );
    }
    assert_eq!(
        call(
            &pool,
            &server.base,
            "DescribeTable",
            json!({"TableName": "ops_nope"})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(&pool, &server.base, "NoSuchThing", json!({})).await.0,
        400
    );

    let (status, headers, body) = get(&pool, &format!("{}/metrics", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    let sample = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
            .parse()
            .unwrap()
    };
    assert!(sample("dynamo_pg_requests_total{operation=\"ListTables\",outcome=\"ok\"}") >= 3.0);
    assert!(
        sample("dynamo_pg_requests_total{operation=\"DescribeTable\",outcome=\"client_error\"}")
            >= 1.0
    );
    assert!(
        sample("dynamo_pg_requests_total{operation=\"unknown\",outcome=\"client_error\"}") >= 1.0
    );
    assert!(
        sample("dynamo_pg_request_duration_seconds_bucket{operation=\"ListTables\",outcome=\"ok\",le=\"+Inf\"}") >= 3.0
    );
    assert!(
        sample("dynamo_pg_request_duration_seconds_count{operation=\"ListTables\",outcome=\"ok\"}")
            >= 3.0
    );
    assert_eq!(sample("dynamo_pg_db_pool_max_connections"), 4.0);
    assert!(sample("dynamo_pg_db_pool_connections") >= 1.0);
    assert!(sample("dynamo_pg_db_pool_connections_in_use") >= 0.0);
    assert_eq!(sample("dynamo_pg_db_pool_waiting"), 0.0);
    assert!(sample("dynamo_pg_http_connections_open") >= 1.0);
    assert!(text.contains("# TYPE dynamo_pg_request_duration_seconds histogram\n"));
    assert!(text.contains("# TYPE dynamo_pg_requests_total counter\n"));
    // No table names in labels: the endpoint needs no credentials.
    assert!(!text.contains("ops_nope"));
}

/// Request threads: connections are shared out among them (fewest open first), each serves
/// its own through its own share of the pool, and `--pool-size` stays the total.
#[tokio::test]
async fn connections_are_shared_out_among_request_threads() {
    // Three threads asked for, but a pool of 4 makes two lanes of two connections.
    let server = Server::start(&shared_pg().url(), &["--worker-threads", "3"]);
    let table = format!("ops_threads_{}", std::process::id());
    create_table(&pool(), &server.base, &table).await;
    // Four clients, each on its own keep-alive connection, writing and reading back their own
    // items at once.
    let clients: Vec<Pool> = (0..4).map(|_| pool()).collect();
    let work = clients.iter().enumerate().map(|(c, client)| {
        let (base, table) = (&server.base, &table);
        async move {
            for n in 0..25 {
                let key = format!("c{c}-{n}");
                let item = json!({"pk": {"S": key}, "n": {"N": n.to_string()}});
                let (status, body) = call_json(
                    client,
                    base,
                    "PutItem",
                    json!({"TableName": table, "Item": item}),
                )
                .await;
                assert_eq!(status, 200, "PutItem: {body}");
                let (status, body) = call_json(
                    client,
                    base,
                    "GetItem",
                    json!({"TableName": table, "Key": {"pk": {"S": key}}, "ConsistentRead": true}),
                )
                .await;
                assert_eq!((status, &body["Item"]), (200, &item), "GetItem {key}");
            }
        }
    });
    futures_util::future::join_all(work).await;

    let (status, _, body) = get(&pool(), &format!("{}/metrics", server.base)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    let sample = |series: &str| -> Option<f64> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| v.parse().unwrap())
        })
    };
    let open = |thread: usize| {
        sample(&format!(
            "dynamo_pg_request_thread_connections{{thread=\"{thread}\"}}"
        ))
    };
    // The four clients' connections are still open: two on each thread.
    assert!(open(0).unwrap() >= 2.0, "thread 0:\n{text}");
    assert!(open(1).unwrap() >= 2.0, "thread 1:\n{text}");
    assert_eq!(
        open(2),
        None,
        "a third thread without connections of its own"
    );
    assert_eq!(sample("dynamo_pg_db_pool_max_connections"), Some(4.0));
    drop(clients);
}

/// The server's `dynamo_pg_process_cpu_seconds`.
async fn cpu_seconds(pool: &Pool, server: &Server) -> f64 {
    let (status, _, body) = get(pool, &format!("{}/metrics", server.base)).await;
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("dynamo_pg_process_cpu_seconds "))
        .expect("dynamo_pg_process_cpu_seconds")
        .parse()
        .unwrap()
}

/// CPU seconds `server` spends answering one request at a time, a millisecond apart, for a
/// second.
async fn cpu_spent_serving(pool: &Pool, server: &Server) -> f64 {
    let before = cpu_seconds(pool, server).await;
    let until = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < until {
        assert_eq!(
            call(pool, &server.base, "ListTables", json!({})).await.0,
            200
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cpu_seconds(pool, server).await - before
}

#[tokio::test]
async fn busy_polling_spends_cpu_only_while_requests_come() {
    let polling = Server::start(&shared_pg().url(), &["--busy-poll-us", "5000"]);
    let sleeping = Server::start(&shared_pg().url(), &["--busy-poll-us", "0"]);
    let pool = pool();
    // Requests come within the polling window, so one server keeps a thread polling
    // throughout and the other sleeps between them.
    let polled = cpu_spent_serving(&pool, &polling).await;
    let slept = cpu_spent_serving(&pool, &sleeping).await;
    assert!(
        polled > slept + 0.2,
        "polling spent {polled:.3} s of CPU, sleeping {slept:.3} s"
    );
    // Once requests stop, the polling server sleeps too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = cpu_seconds(&pool, &polling).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = cpu_seconds(&pool, &polling).await - before;
    assert!(
        idle < 0.1,
        "an idle server spent {idle:.3} s of CPU in a second"
    );
}

#[tokio::test]
async fn one_json_log_line_per_request() {
    let server = Server::start(
        &shared_pg().url(),
        &[
            "--log-format",
            "json",
            "--log-level",
            "info",
            "--access-log",
        ],
    );
    let pool = pool();
    let table = format!("ops_log_{}", std::process::id());
    create_table(&pool, &server.base, &table).await;
    let (status, _, _) = call(
        &pool,
        &server.base,
        "PutItem",
        json!({"TableName": table, "Item": {"pk": {"S": "a"}}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &pool,
        &server.base,
        "GetItem",
        json!({"TableName": table, "Key": {"nope": {"S": "a"}}}),
    )
    .await;
    assert_eq!(status, 400);
    let deadline = Instant::now() + Duration::from_secs(5);
    let find = |op: &str| -> Option<Value> {
        server
            .log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| {
                v["target"] == "dynamo_pg::request"
                    && v["fields"]["operation"] == op
                    && v["fields"]["table"] == table.as_str()
            })
    };
    let (put, get) = loop {
        if let (Some(put), Some(get)) = (find("PutItem"), find("GetItem")) {
            break (put, get);
        }
        assert!(
            Instant::now() < deadline,
            "request log lines missing: {:?}",
            server.log_lines()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(put["level"], "INFO");
    assert_eq!(put["fields"]["status"], 200);
    assert_eq!(put["fields"]["error"], "");
    assert!(put["fields"]["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(put["fields"]["request_id"].as_str().unwrap().len(), 32);
    assert!(put["fields"]["peer"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(get["fields"]["status"], 400);
    assert_eq!(get["fields"]["error"], "ValidationException");
}

// ---------------------------------------------------------------------------------------------
// Shutdown and faults

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let mut server = Server::start(&shared_pg().url(), &[]);
    let pool = pool();
    let table = format!("ops_shutdown_{}", std::process::id());
    create_table(&pool, &server.base, &table).await;

    // Headers and half the body are in when SIGTERM arrives.
    let body = json!({"TableName": table, "Item": {"pk": {"S": "in-flight"}}}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(raw_api_head(&server.addr, "PutItem", body.len(), "").as_bytes())
        .await
        .unwrap();
    tcp.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(server.child.id(), libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(&server.addr).await.is_err(),
        "still accepting new connections after SIGTERM"
    );
    tcp.write_all(rest).await.unwrap();
    let (status, head, response) = read_response(&mut tcp)
        .await
        .expect("the in-flight request is answered");
    assert_eq!(
        status,
        200,
        "{head}\n{}",
        String::from_utf8_lossy(&response)
    );
    let exit = wait_exit(&mut server.child, Duration::from_secs(15))
        .expect("the server exits after its last request");
    assert!(exit.success(), "{exit:?}");

    // The write is there.
    let other = shared_server();
    let (status, item) = call_json(
        &pool,
        &other.base,
        "GetItem",
        json!({"TableName": table, "Key": {"pk": {"S": "in-flight"}}, "ConsistentRead": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(item["Item"]["pk"]["S"], "in-flight");
}

/// What one writer saw for one PutItem.
struct Attempt {
    key: String,
    status: u16,
    body: Value,
    latency: Duration,
    at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_fast_and_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    let pg = Arc::new(Pg::new());
    let mut server = Server::start(&pg.url(), &["--database-timeout", "2"]);
    let base = server.base.clone();
    let pool = pool();
    let table = format!("ops_outage_{}", std::process::id());
    create_table(&pool, &base, &table).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (pool, base, table, stop) = (pool.clone(), base.clone(), table.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) && attempts.len() < 50_000 {
                seq += 1;
                let key = format!("w{w}-{seq}");
                let at = Instant::now();
                let item = json!({"pk": {"S": key}, "seq": {"N": seq.to_string()}});
                let (status, body) = call_json(
                    &pool,
                    &base,
                    "PutItem",
                    json!({"TableName": table, "Item": item}),
                )
                .await;
                let latency = at.elapsed();
                let failed = status != 200;
                attempts.push(Attempt {
                    key,
                    status,
                    body,
                    latency,
                    at,
                });
                if failed {
                    // A client backing off, as the SDKs do between retries.
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
            attempts
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let down_at = Instant::now();
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.crash())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (ready_status, _, _) = get(&pool, &format!("{base}/health/ready")).await;
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let up_at = Instant::now();
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.start())
            .await
            .unwrap();
    }
    let pg_ready_at = Instant::now();
    // Let the writers see the recovery, then some more writes after it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut recovered_at = None;
    while Instant::now() < deadline {
        let (status, _) = call_json(&pool, &base, "ListTables", json!({})).await;
        let (ready, _, _) = get(&pool, &format!("{base}/health/ready")).await;
        if status == 200 && ready == 200 {
            recovered_at = Some(Instant::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_at = recovered_at.expect("the server did not recover after PostgreSQL came back");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for w in writers {
        attempts.extend(w.await.unwrap());
    }

    let acked: Vec<&Attempt> = attempts.iter().filter(|a| a.status == 200).collect();
    let failed: Vec<&Attempt> = attempts.iter().filter(|a| a.status != 200).collect();
    let before = acked.iter().filter(|a| a.at < down_at).count();
    let after = acked.iter().filter(|a| a.at > up_at).count();
    let max_failure = failed.iter().map(|a| a.latency).max().unwrap_or_default();
    eprintln!(
        "outage: {} writes acknowledged ({before} before the crash, {after} after the restart), {} failed, \
         slowest failure {:?}; PostgreSQL took {:?} to restart (crash recovery), the server was \
         ready {:?} after that",
        acked.len(),
        failed.len(),
        max_failure,
        pg_ready_at - up_at,
        recovered_at.saturating_duration_since(pg_ready_at)
    );
    assert!(
        before > 0 && after > 0,
        "writes before and after the outage"
    );
    assert!(
        !failed.is_empty(),
        "writes failed while PostgreSQL was down"
    );
    assert_eq!(ready_status, 503, "/health/ready during the outage");
    for a in &failed {
        assert!(
            a.status == 500 || a.status == 503,
            "{} {}",
            a.status,
            a.body
        );
        let kind = a.body["__type"].as_str().unwrap_or("");
        assert!(
            kind == "com.amazonaws.dynamodb.v20120810#InternalServerError"
                || kind == "com.amazonaws.dynamodb.v20120810#ServiceUnavailableException",
            "{}",
            a.body
        );
        assert!(a.body["message"].is_string(), "{}", a.body);
    }
    assert!(
        max_failure < Duration::from_millis(3500),
        "a failing request took {max_failure:?}"
    );
    assert!(recovered_at - up_at < Duration::from_secs(10));

    // Every acknowledged write is there.
    let keys: Vec<String> = acked.iter().map(|a| a.key.clone()).collect();
    let keys = Arc::new(keys);
    let next = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (pool, base, table, keys, next) = (
            pool.clone(),
            base.clone(),
            table.clone(),
            keys.clone(),
            next.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut missing = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(key) = keys.get(i) else {
                    return missing;
                };
                let (status, body) = call_json(
                    &pool,
                    &base,
                    "GetItem",
                    json!({"TableName": table, "Key": {"pk": {"S": key}}, "ConsistentRead": true}),
                )
                .await;
                if status != 200 || body["Item"]["pk"]["S"] != key.as_str() {
                    missing.push(format!("{key}: {status} {body}"));
                }
            }
        }));
    }
    let mut missing = Vec::new();
    for r in readers {
        missing.extend(r.await.unwrap());
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged writes missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server stayed up"
    );
}
