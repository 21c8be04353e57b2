//! The HTTP load generator: a fixed number of keep-alive HTTP/1.1 connections speaking raw
//! HTTP over TCP (`TCP_NODELAY`), each sending pre-serialized DynamoDB requests back to back
//! and timing them.
//!
//! Why raw: every microsecond of client CPU is taken from the server and PostgreSQL, which
//! share the machine's cores with it, so the generator must cost about what pgbench does per
//! transaction. A request is one buffer built before the clock starts (request line, `Host`,
//! `Content-Type`, `X-Amz-Target`, `X-Amz-Date`, a well-formed SigV4 `Authorization`,
//! `Content-Length`, the body), written with one `write`. The answer is read in full (status
//! line, headers, a `Content-Length` or chunked body) and its status checked: anything but 200
//! fails the run with the answer's body. Nothing parses JSON or signs anything per request.
//!
//! Where the work runs: [`Prepared::run`] drives the connections as tasks of a single-threaded
//! tokio runtime on an OS thread of its own ([`CLIENT_THREADS`]; more threads split the
//! connections between them, like `pgbench -j`). Per request the client then costs one `send`,
//! one `recv` and, unless answers arrive together, one `epoll_wait` and the wake-up after it;
//! the kernel's share (loopback TCP, scheduling) is most of it. Measured on the 2-core
//! development machine at 16 and 64 connections, interleaved runs against one server build:
//! hyper's client on the multi-thread runtime took 13-21 µs of client CPU per GetItem and
//! 21-43 µs per Query; this one 7-10 µs and 9-16 µs (pgbench: 7-10 µs per point select). A
//! busier machine batches more wake-ups, so the figures drop as the load rises. One thread
//! woke less often than two, and than a blocking thread per connection (the worst at 64
//! connections).
//!
//! [`Connection`] is the same client for one-off calls (setup, probes, the Scan of the scale
//! mode): it builds each request when sent, with a fresh date.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// OS threads the load generator runs on (at most one per connection; `BENCH_CLIENT_THREADS`
/// overrides it). One: answers that arrive together are then handled after one wake-up.
pub const CLIENT_THREADS: usize = 1;

/// One kind of request: its DynamoDB operation and the bodies to pick from.
#[derive(Clone)]
pub struct RequestSet {
    /// `X-Amz-Target`: `DynamoDB_20120810.<operation>`.
    pub target: String,
    pub bodies: Arc<Vec<Bytes>>,
}

impl RequestSet {
    /// A set for operation `op` (`GetItem`, ...) with the given bodies.
    pub fn new(op: &str, bodies: Vec<Bytes>) -> RequestSet {
        RequestSet {
            target: format!("DynamoDB_20120810.{op}"),
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

/// The headers every request carries besides the target and length: like an SDK's, with a
/// current `X-Amz-Date` and a well-formed SigV4 `Authorization` (a server without configured
/// keys checks only the form; the date must be within 15 minutes of the server's clock, so it
/// is taken when the requests are built, never long before they are sent).
fn common_headers(addr: SocketAddr) -> String {
    let (date, day) = amz_date(SystemTime::now());
    format!(
        "Host: {addr}\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Date: {date}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/{day}/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
         Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n"
    )
}

/// Appends one whole request to `out`.
fn write_request(out: &mut Vec<u8>, headers: &str, target: &str, body: &[u8]) {
    out.extend_from_slice(b"POST / HTTP/1.1\r\n");
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(b"X-Amz-Target: ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// How a response's body is delimited.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Length(usize),
    Chunked,
}

/// A response read in full: its status and where its body lies in the reader's buffer (or in
/// its decoded-chunks buffer).
#[derive(Clone, Debug)]
struct Response {
    status: u16,
    body: Range<usize>,
    chunked: bool,
}

/// Reads HTTP/1.1 responses from a byte stream into one reusable buffer.
struct Reader {
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Once the head of the current response is parsed: status, where the body starts, and
    /// its framing.
    head: Option<(u16, usize, Framing)>,
    /// A chunked body, de-chunked.
    decoded: Vec<u8>,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            buf: vec![0; 64 * 1024],
            filled: 0,
            head: None,
            decoded: Vec::new(),
        }
    }

    /// The free part of the buffer to read into, grown when full (large Scan pages).
    fn spare(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// The complete response in the buffer, if it is all there.
    fn parse(&mut self) -> Result<Option<Response>, String> {
        let (status, start, framing) = match self.head {
            Some(head) => head,
            None => {
                let data = &self.buf[..self.filled];
                let Some(end) = find(data, b"\r\n\r\n") else {
                    if self.filled > 1 << 20 {
                        return Err("a response head over 1 MiB".into());
                    }
                    return Ok(None);
                };
                let head = parse_head(&data[..end])?;
                let head = (head.0, end + 4, head.1);
                self.head = Some(head);
                head
            }
        };
        let response = match framing {
            Framing::Length(len) => {
                if self.filled < start + len {
                    return Ok(None);
                }
                if self.filled > start + len {
                    return Err("bytes after the response (none were asked for)".into());
                }
                Response {
                    status,
                    body: start..start + len,
                    chunked: false,
                }
            }
            Framing::Chunked => match dechunk(&self.buf[start..self.filled], &mut self.decoded)? {
                None => return Ok(None),
                Some(used) => {
                    if start + used != self.filled {
                        return Err("bytes after the response (none were asked for)".into());
                    }
                    Response {
                        status,
                        body: 0..self.decoded.len(),
                        chunked: true,
                    }
                }
            },
        };
        self.head = None;
        self.filled = 0;
        Ok(Some(response))
    }

    /// The body of `response`, which [`Reader::parse`] just returned.
    fn body(&self, response: &Response) -> &[u8] {
        if response.chunked {
            &self.decoded[response.body.clone()]
        } else {
            &self.buf[response.body.clone()]
        }
    }
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The status and body framing from a response head (without the final CRLFCRLF).
fn parse_head(head: &[u8]) -> Result<(u16, Framing), String> {
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| number(rest.get(..3)?))
        .ok_or_else(|| format!("not an HTTP/1.1 status line: {:?}", lossy(status_line)))?;
    let mut framing = None;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(format!("a malformed header line: {:?}", lossy(line)));
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let len =
                number(value).ok_or_else(|| format!("a bad Content-Length: {:?}", lossy(value)))?;
            framing = Some(Framing::Length(len));
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !value.eq_ignore_ascii_case(b"chunked") {
                return Err(format!(
                    "an unsupported Transfer-Encoding: {:?}",
                    lossy(value)
                ));
            }
            framing = Some(Framing::Chunked);
        }
    }
    // Without either header, a keep-alive response to a POST has no body only for these.
    let framing = match framing {
        Some(f) => f,
        None if status == 204 || status == 304 || status < 200 => Framing::Length(0),
        None => {
            return Err(format!(
                "a {status} response without Content-Length or chunking"
            ))
        }
    };
    Ok((status, framing))
}

/// A decimal number written in ASCII.
fn number<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Decodes a chunked body from `data` into `out`: `Some(bytes used)` once the last chunk (and
/// the trailer section) is in, `None` while more is needed.
fn dechunk(data: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, String> {
    out.clear();
    let mut at = 0;
    loop {
        let Some(line_len) = find(&data[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[at..at + line_len]).unwrap_or("?");
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a bad chunk size line: {line:?}"))?;
        at += line_len + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(len) = find(&data[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += len + 2;
                if len == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if data.len() < at + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[at..at + size]);
        if &data[at + size..at + size + 2] != b"\r\n" {
            return Err("a chunk not followed by CRLF".into());
        }
        at += size + 2;
    }
}

/// Sends `request` on `stream` and reads the whole answer into `reader`.
async fn exchange(
    stream: &mut TcpStream,
    reader: &mut Reader,
    request: &[u8],
) -> Result<Response, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending a request: {e}"))?;
    loop {
        if let Some(response) = reader.parse()? {
            return Ok(response);
        }
        let n = stream
            .read(reader.spare())
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        reader.filled += n;
    }
}

/// One keep-alive connection to the server, for one-off calls.
pub struct Connection {
    stream: TcpStream,
    reader: Reader,
    addr: SocketAddr,
    request: Vec<u8>,
}

impl Connection {
    /// Opens a connection.
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Connection {
            stream,
            reader: Reader::new(),
            addr,
            request: Vec::new(),
        })
    }

    /// Sends one request (`target` is the whole `X-Amz-Target`) and reads the whole answer:
    /// (status, body).
    pub async fn call(&mut self, target: &str, body: &[u8]) -> Result<(StatusCode, Bytes), String> {
        self.request.clear();
        write_request(&mut self.request, &common_headers(self.addr), target, body);
        let response = exchange(&mut self.stream, &mut self.reader, &self.request).await?;
        let status = StatusCode::from_u16(response.status).map_err(|e| e.to_string())?;
        Ok((status, Bytes::copy_from_slice(self.reader.body(&response))))
    }

    /// Sends a JSON request for operation `op`: (status, parsed body).
    pub async fn call_json(
        &mut self,
        op: &str,
        body: &serde_json::Value,
    ) -> Result<(StatusCode, serde_json::Value), String> {
        let target = format!("DynamoDB_20120810.{op}");
        let (status, bytes) = self.call(&target, body.to_string().as_bytes()).await?;
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

/// The whole requests of one [`RequestSet`], serialized back to back in one buffer.
struct Requests {
    target: String,
    bytes: Vec<u8>,
    /// Where each request lies in `bytes`.
    spans: Vec<Range<usize>>,
}

impl Requests {
    fn build(set: &RequestSet, headers: &str) -> Requests {
        let mut bytes = Vec::with_capacity(
            set.bodies
                .iter()
                .map(|b| b.len() + headers.len() + 128)
                .sum(),
        );
        let spans = set
            .bodies
            .iter()
            .map(|body| {
                let start = bytes.len();
                write_request(&mut bytes, headers, &set.target, body);
                start..bytes.len()
            })
            .collect();
        Requests {
            target: set.target.clone(),
            bytes,
            spans,
        }
    }
}

/// A run ready to start: connections open and requests serialized, so that neither counts in
/// the CPU time measured around [`Prepared::run`].
pub struct Prepared {
    sets: Arc<Vec<(Requests, u32)>>,
    streams: Vec<std::net::TcpStream>,
    threads: usize,
}

/// Opens `connections` connections to `addr` and serializes every request of `plan`, with the
/// current date.
pub fn prepare(addr: SocketAddr, plan: &Plan, connections: usize) -> Result<Prepared, String> {
    let headers = common_headers(addr);
    let sets = plan
        .sets
        .iter()
        .map(|(set, weight)| (Requests::build(set, &headers), *weight))
        .collect();
    let streams = (0..connections)
        .map(|_| {
            let stream = std::net::TcpStream::connect(addr)
                .map_err(|e| format!("connect to {addr}: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            stream.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(stream)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let threads = std::env::var("BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(CLIENT_THREADS)
        .clamp(1, connections.max(1));
    Ok(Prepared {
        sets: Arc::new(sets),
        streams,
        threads,
    })
}

/// What one connection measured: its latencies and when it stopped.
type ConnectionResult = Result<(Vec<u32>, Instant), String>;

impl Prepared {
    /// Runs for `duration` (blocking the calling thread). The clock starts when every thread
    /// is ready. Any answer other than 200 fails the run.
    pub fn run(self, duration: Duration) -> Result<RunResult, String> {
        let Prepared {
            sets,
            streams,
            threads,
        } = self;
        let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
        let mut per_thread: Vec<Vec<(usize, std::net::TcpStream)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (n, stream) in streams.into_iter().enumerate() {
            per_thread[n % threads].push((n, stream));
        }
        let handles: Vec<_> = per_thread
            .into_iter()
            .map(|streams| {
                let sets = sets.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || -> Vec<ConnectionResult> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .build()
                        .expect("tokio runtime");
                    let _entered = runtime.enter();
                    let streams: Vec<_> = streams
                        .into_iter()
                        .map(|(n, s)| (n, TcpStream::from_std(s).expect("register a socket")))
                        .collect();
                    barrier.wait();
                    let deadline = Instant::now() + duration;
                    runtime.block_on(async {
                        let tasks: Vec<_> = streams
                            .into_iter()
                            .map(|(n, stream)| {
                                tokio::spawn(drive(stream, n, sets.clone(), deadline))
                            })
                            .collect();
                        let mut results = Vec::with_capacity(tasks.len());
                        for task in tasks {
                            results.push(
                                task.await
                                    .unwrap_or_else(|e| Err(format!("load task panicked: {e}"))),
                            );
                        }
                        results
                    })
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut all = Vec::new();
        let mut end = start;
        let mut failure = None;
        for handle in handles {
            let results = handle
                .join()
                .map_err(|_| "a load thread panicked".to_string())?;
            for result in results {
                match result {
                    Ok((latencies, finished)) => {
                        all.extend(latencies);
                        end = end.max(finished);
                    }
                    Err(e) => failure = failure.or(Some(e)),
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        all.sort_unstable();
        Ok(RunResult {
            requests: all.len() as u64,
            elapsed: end - start,
            latencies_us: all,
        })
    }
}

/// One connection's loop: pick a request, send it, read the answer, record the latency, until
/// `deadline`.
async fn drive(
    mut stream: TcpStream,
    n: usize,
    sets: Arc<Vec<(Requests, u32)>>,
    deadline: Instant,
) -> ConnectionResult {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let total_weight: u32 = sets.iter().map(|(_, w)| w).sum();
    let mut reader = Reader::new();
    let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
    loop {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let mut pick = rng.below(total_weight as usize) as u32;
        let requests = sets
            .iter()
            .find(|(_, w)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .map(|(r, _)| r)
            .expect("a request set");
        let span = requests.spans[rng.below(requests.spans.len())].clone();
        let response = exchange(&mut stream, &mut reader, &requests.bytes[span]).await?;
        if response.status != 200 {
            return Err(format!(
                "{} answered {}: {}",
                requests.target,
                response.status,
                String::from_utf8_lossy(reader.body(&response))
            ));
        }
        latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
    Ok((latencies, Instant::now()))
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

/// Checks the hand-written response reader on answers cut at every byte, chunked ones included
/// (which today's server never sends, so a run would not exercise them), and on malformed ones.
/// Run at start: a wrong reader would make every number of the benchmark wrong. Panics on a
/// failure.
pub fn self_check() {
    fn feed(reader: &mut Reader, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let spare = reader.spare();
            let n = spare.len().min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            reader.filled += n;
            bytes = &bytes[n..];
        }
    }
    let answers: [(&[u8], u16, &[u8]); 4] = [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\n\r\nhello", 200, b"hello"),
        (b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\nT: v\r\n\r\n", 400, b"hello"),
        (b"HTTP/1.1 204 No\r\n\r\n", 204, b""),
        (b"HTTP/1.1 200 OK\r\nContent-Length:0\r\n\r\n", 200, b""),
    ];
    for (wire, status, body) in answers {
        for split in 1..wire.len() {
            let mut reader = Reader::new();
            feed(&mut reader, &wire[..split]);
            assert!(reader.parse().expect("valid").is_none(), "split {split}");
            feed(&mut reader, &wire[split..]);
            let response = reader.parse().expect("valid").expect("complete");
            assert_eq!(response.status, status);
            assert_eq!(reader.body(&response), body);
            // The reader is ready for the next answer.
            feed(&mut reader, wire);
            let response = reader.parse().expect("valid").expect("complete");
            assert_eq!(reader.body(&response), body);
        }
    }
    for bad in [
        &b"HTTP/1.0 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
    ] {
        let mut reader = Reader::new();
        feed(&mut reader, bad);
        assert!(
            reader.parse().is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Growth past 64 KiB.
    let big = vec![b'x'; 200_000];
    let mut wire = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    wire.extend_from_slice(&big);
    let mut reader = Reader::new();
    for chunk in wire.chunks(10_000) {
        assert!(reader.parse().unwrap().is_none());
        feed(&mut reader, chunk);
    }
    let response = reader.parse().unwrap().unwrap();
    assert_eq!(reader.body(&response), &big[..]);
}
