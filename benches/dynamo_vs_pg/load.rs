//! The HTTP load generator: a fixed number of keep-alive HTTP/1.1 connections (hyper's
//! low-level client, one connection per task, no pool), each sending pre-built DynamoDB
//! requests back to back and timing them. Nothing in the loop parses JSON or signs anything, so
//! the generator costs a few microseconds of CPU per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One kind of request: its `X-Amz-Target` and the bodies to pick from.
#[derive(Clone)]
pub struct RequestSet {
    pub target: HeaderValue,
    pub bodies: Arc<Vec<Bytes>>,
}

impl RequestSet {
    /// A set for operation `op` (`GetItem`, ...) with the given bodies.
    pub fn new(op: &str, bodies: Vec<Bytes>) -> RequestSet {
        RequestSet {
            target: HeaderValue::from_str(&format!("DynamoDB_20120810.{op}"))
                .expect("target header"),
            bodies: Arc::new(bodies),
        }
    }
}

/// What each connection sends: request sets with integer weights (GetItem 9, PutItem 1 for the
/// mix). Each request picks a set by weight and a body at random.
#[derive(Clone)]
pub struct Plan {
    pub sets: Vec<(RequestSet, u32)>,
}

/// What a timed run measured.
pub struct RunResult {
    /// Requests answered with 200 within the run.
    pub requests: u64,
    /// From the moment all connections started sending until the last one stopped.
    pub elapsed: Duration,
    /// Every request's latency in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl RunResult {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

/// One keep-alive connection to the server with the headers every request carries.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    headers: HeaderMap,
}

/// `X-Amz-Target`, set per request.
static TARGET: HeaderName = HeaderName::from_static("x-amz-target");

impl Connection {
    /// Opens a connection. Requests look like an SDK's: JSON 1.0 content type, a current
    /// `X-Amz-Date` and a well-formed SigV4 `Authorization` header (a server without configured
    /// keys checks only the form).
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (date, day) = amz_date(SystemTime::now());
        let mut headers = HeaderMap::new();
        let value = |s: &str| HeaderValue::from_str(s).expect("header value");
        headers.insert("host", value(&addr.to_string()));
        headers.insert("content-type", value("application/x-amz-json-1.0"));
        headers.insert("x-amz-date", value(&date));
        headers.insert(
            "authorization",
            value(&format!(
                "AWS4-HMAC-SHA256 Credential=AKIDBENCH/{day}/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=0000000000000000000000000000000000000000000000000000000000000000"
            )),
        );
        Ok(Connection { sender, headers })
    }

    /// Sends one request and reads the whole answer: (status, body).
    pub async fn call(
        &mut self,
        target: &HeaderValue,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = Uri::from_static("/");
        let headers = req.headers_mut();
        headers.clone_from(&self.headers);
        headers.insert(TARGET.clone(), target.clone());
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection lost: {e}"))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Sends a JSON request for operation `op`: (status, parsed body).
    pub async fn call_json(
        &mut self,
        op: &str,
        body: &serde_json::Value,
    ) -> Result<(StatusCode, serde_json::Value), String> {
        let target =
            HeaderValue::from_str(&format!("DynamoDB_20120810.{op}")).map_err(|e| e.to_string())?;
        let (status, bytes) = self.call(&target, Bytes::from(body.to_string())).await?;
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}

/// A small, fast pseudo-random generator (xorshift64*), one per connection.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Runs `plan` over `connections` connections for `duration`. Connections are opened first;
/// the clock starts when all of them are ready. Any answer other than 200 fails the run.
pub async fn run(
    addr: SocketAddr,
    plan: &Plan,
    connections: usize,
    duration: Duration,
) -> Result<RunResult, String> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Connection::open(addr).await?);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let total_weight: u32 = plan.sets.iter().map(|(_, w)| w).sum();
    let mut tasks = Vec::with_capacity(connections);
    for (n, mut conn) in conns.into_iter().enumerate() {
        let plan = plan.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            barrier.wait().await;
            let deadline = Instant::now() + duration;
            loop {
                let started = Instant::now();
                if started >= deadline {
                    break;
                }
                let mut pick = rng.below(total_weight as usize) as u32;
                let set = plan
                    .sets
                    .iter()
                    .find(|(_, w)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map(|(s, _)| s)
                    .expect("a request set");
                let body = set.bodies[rng.below(set.bodies.len())].clone();
                let (status, answer) = conn.call(&set.target, body).await?;
                if status != StatusCode::OK {
                    return Err(format!(
                        "{} answered {status}: {}",
                        set.target.to_str().unwrap_or("?"),
                        String::from_utf8_lossy(&answer)
                    ));
                }
                latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok::<_, String>((latencies, Instant::now()))
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    let mut end = start;
    for task in tasks {
        let (latencies, finished) = task
            .await
            .map_err(|e| format!("load task panicked: {e}"))??;
        all.extend(latencies);
        end = end.max(finished);
    }
    all.sort_unstable();
    Ok(RunResult {
        requests: all.len() as u64,
        elapsed: end - start,
        latencies_us: all,
    })
}

/// `X-Amz-Date` (`20260101T120000Z`) and the credential scope's day (`20260101`) for `t`.
fn amz_date(t: SystemTime) -> (String, String) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let time = format!("T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60);
    (format!("{date}{time}"), date)
}
