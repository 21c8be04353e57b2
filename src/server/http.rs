//! One HTTP request: route, read the body (bounded in size and time), authenticate, decode,
//! dispatch, and frame the answer the way DynamoDB does (JSON 1.0, `x-amzn-RequestId`,
//! `x-amz-crc32`, DynamoDB's error envelope, gzip when the client asks for it). Also the
//! operational endpoints: `GET /health/live`, `GET /health/ready` and `GET /metrics`.
//!
//! Compression, both ways:
//! - A request body with `Content-Encoding: gzip` is signed as sent (compressed), so its
//!   signature is checked against the compressed bytes before anything is decompressed; the
//!   decompressed body is held to the same 16 MB limit as the compressed one.
//! - A response is gzipped when the request's `Accept-Encoding` allows gzip, and its
//!   `x-amz-crc32` is the CRC32 of the bytes on the wire (the compressed ones), as the service
//!   sends it: the SDKs that check it (botocore, the Java and Go SDKs) compute it over the raw
//!   response before decompressing.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::State;
use crate::api::{self, Ctx};
use crate::error::{ApiError, ErrorKind};
use crate::validate::Service;

/// DynamoDB accepts request bodies up to 16 MB; one byte more is a 413 with an empty body
/// (what the service answers, as recorded by dynalite's tests against it).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Bodies at least this large are (de)compressed on the blocking pool rather than on an async
/// worker thread: 16 MB of gzip is tens of milliseconds of CPU.
const BLOCKING_CODEC_BYTES: usize = 256 * 1024;

/// The response body type.
pub type Body = Full<Bytes>;

/// Why a request never reached the API, besides the API's own errors.
enum Failure {
    /// A DynamoDB error, sent in the usual envelope.
    Api(ApiError),
    /// The body exceeds 16 MB (on the wire or decompressed).
    TooLarge,
    /// The body did not arrive within the body timeout.
    Timeout,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        if e.kind == ErrorKind::RequestEntityTooLarge {
            Failure::TooLarge
        } else {
            Failure::Api(e)
        }
    }
}

/// Answers one request. Never fails: every problem becomes a DynamoDB error response.
pub async fn handle(state: &State, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let request_id = super::request_id::next();
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return get(state, &req, &request_id).await;
    }
    let started = Instant::now();
    let _in_flight = state.metrics.request_started();
    let accept_gzip = accepts_gzip(req.headers());
    if req.method() != Method::POST || !is_json_content_type(req.headers()) {
        return not_an_api_call(&request_id);
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let operation = operation_label(&target);
    let (parts, body) = req.into_parts();
    let mut table: Option<String> = None;
    let result = match read_body(&parts.headers, body, state).await {
        Ok(wire) => process(&state.ctx, &parts, wire, &target, &mut table)
            .await
            .map_err(Failure::from),
        Err(f) => Err(f),
    };
    let (response, error_type) = match result {
        Ok(body) => (
            json_response(StatusCode::OK, body, &request_id, accept_gzip).await,
            None,
        ),
        Err(Failure::Api(e)) => (
            error_response(&e, &request_id, accept_gzip).await,
            Some(e.kind.name()),
        ),
        Err(Failure::TooLarge) => (
            too_large(&request_id, parts.version),
            Some(ErrorKind::RequestEntityTooLarge.name()),
        ),
        Err(Failure::Timeout) => (
            timed_out(&request_id, parts.version),
            Some("RequestTimeoutException"),
        ),
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics.record(operation, status, elapsed);
    // Internal errors are logged where they are answered (`error_response`) either way.
    if !state.options.access_log {
        return response;
    }
    tracing::info!(
        target: "dynamo_pg::request",
        request_id = %request_id,
        peer = %peer,
        operation,
        table = table.as_deref().unwrap_or(""),
        status,
        error = error_type.unwrap_or(""),
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    response
}

/// The operation named by `X-Amz-Target` if it is one we know, else `unknown`: a bounded set of
/// names for metrics and logs, whatever clients send.
fn operation_label(target: &str) -> &str {
    match target.split_once('.') {
        Some((prefix, op))
            if Service::from_target_prefix(prefix)
                .is_some_and(|s| crate::validate::is_known_operation(s, op)) =>
        {
            op
        }
        _ => "unknown",
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    content_type.is_empty()
        || content_type == "application/json"
        || content_type == "application/x-amz-json-1.0"
}

/// Reads the whole body as sent, within the size limit and the body timeout. A declared
/// `Content-Length` over the limit is refused before reading anything.
async fn read_body(headers: &HeaderMap, body: Incoming, state: &State) -> Result<Bytes, Failure> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Failure::TooLarge);
    }
    let collect = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(state.options.body_timeout, collect).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Failure::TooLarge),
        Ok(Err(e)) => {
            // The client went away or broke the framing mid-body; nobody may be listening.
            tracing::debug!("request body could not be read: {e}");
            Err(Failure::Api(ApiError::new(ErrorKind::Serialization, "")))
        }
    }
}

/// The request pipeline, in the order the service applies its checks (dynalite, written against
/// the service, documents it): body parses as JSON, target names a known operation, credentials
/// are present, body is non-empty, shapes are valid; then the operation runs. A gzip body is
/// authenticated before it is decompressed, so its JSON is checked after the signature.
async fn process(
    ctx: &Ctx,
    parts: &hyper::http::request::Parts,
    wire: Bytes,
    target: &str,
    table: &mut Option<String>,
) -> Result<Bytes, ApiError> {
    let gzipped = request_is_gzipped(&parts.headers)?;
    let mut input = if gzipped { None } else { parse_json(&wire)? };
    let (service, operation) = match target.split_once('.') {
        Some((prefix, op)) => match Service::from_target_prefix(prefix) {
            Some(service) if crate::validate::is_known_operation(service, op) => (service, op),
            _ => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
        },
        None => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
    };
    authenticate(ctx, parts, &wire)?;
    if gzipped && !wire.is_empty() {
        input = parse_json(&gunzip(wire).await?)?;
    }
    let input = match input {
        Some(v @ serde_json::Value::Object(_)) => v,
        Some(_) => {
            return Err(ApiError::new(
                ErrorKind::Serialization,
                "Start of structure or map found where not expected",
            ))
        }
        None => return Err(ApiError::new(ErrorKind::Serialization, "")),
    };
    *table = input
        .get("TableName")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    crate::validate::validate_request(service, operation, &input)?;
    let mut input = input;
    crate::validate::normalize_request(service, operation, &mut input);
    let output = api::dispatch(ctx, service, operation, input).await?;
    Ok(Bytes::from(output.into_bytes()))
}

/// `None` for an empty body (reported later, in the service's order).
fn parse_json(body: &[u8]) -> Result<Option<serde_json::Value>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| ApiError::new(ErrorKind::Serialization, ""))
}

/// Whether the body is gzip (`Content-Encoding: gzip` or `x-gzip`); `identity` or no header is
/// plain. Other codings are refused: no SDK sends them to DynamoDB.
fn request_is_gzipped(headers: &HeaderMap) -> Result<bool, ApiError> {
    let mut gzipped = false;
    for value in headers.get_all(CONTENT_ENCODING) {
        let value = value.to_str().unwrap_or("");
        for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if coding.eq_ignore_ascii_case("identity") {
                continue;
            }
            if (coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip"))
                && !gzipped
            {
                gzipped = true;
                continue;
            }
            return Err(ApiError::new(
                ErrorKind::Serialization,
                format!("Unsupported Content-Encoding: {value}"),
            ));
        }
    }
    Ok(gzipped)
}

/// Decompresses a gzip body (one or more members), refusing more than 16 MB of output.
async fn gunzip(wire: Bytes) -> Result<Bytes, ApiError> {
    fn decode(wire: &[u8]) -> Result<Bytes, ApiError> {
        use std::io::Read;
        let mut out = Vec::with_capacity((wire.len() * 4).min(MAX_BODY));
        flate2::read::MultiGzDecoder::new(wire)
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| ApiError::new(ErrorKind::Serialization, ""))?;
        if out.len() > MAX_BODY {
            return Err(ApiError::new(ErrorKind::RequestEntityTooLarge, ""));
        }
        Ok(Bytes::from(out))
    }
    if wire.len() < BLOCKING_CODEC_BYTES / 4 {
        return decode(&wire);
    }
    tokio::task::spawn_blocking(move || decode(&wire))
        .await
        .map_err(|e| ApiError::internal(format!("decompression task failed: {e}")))?
}

/// Gzips a response body.
async fn gzip(body: Bytes) -> Bytes {
    fn encode(body: &[u8]) -> Bytes {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 3 + 64),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(body);
        Bytes::from(encoder.finish().unwrap_or_default())
    }
    if body.len() < BLOCKING_CODEC_BYTES {
        return encode(&body);
    }
    let copy = body.clone();
    tokio::task::spawn_blocking(move || encode(&copy))
        .await
        .unwrap_or(body)
}

/// Whether `Accept-Encoding` allows gzip (by name or `*`, with a non-zero quality).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_ENCODING).iter().any(|value| {
        value.to_str().unwrap_or("").split(',').any(|item| {
            let mut pieces = item.split(';').map(str::trim);
            let coding = pieces.next().unwrap_or("");
            let named = coding.eq_ignore_ascii_case("gzip")
                || coding.eq_ignore_ascii_case("x-gzip")
                || coding == "*";
            let quality = pieces
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            named && quality > 0.0
        })
    })
}

/// Checks the request's SigV4 signature against the configured keys. Without configured keys
/// any well-formed signature passes (as DynamoDB Local does), but a signature must be there.
fn authenticate(
    ctx: &Ctx,
    parts: &hyper::http::request::Parts,
    body: &[u8],
) -> Result<(), ApiError> {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // HTTP/2 carries the host in the :authority pseudo-header; clients sign it as `host`.
    if !headers.iter().any(|(k, _)| k == "host") {
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host".into(), authority.to_string()));
        }
    }
    let store = ctx
        .credentials
        .read()
        .map(|s| s.clone())
        .map_err(|_| ApiError::internal("credential store poisoned"))?;
    let request = crate::auth::RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &headers,
        body,
    };
    if store.is_empty() {
        crate::auth::check_well_formed(&request)
    } else {
        crate::auth::verify(&request, &store, std::time::SystemTime::now(), None).map(|_| ())
    }
}

/// GET and HEAD: the operational endpoints, else DynamoDB's health line.
async fn get(state: &State, req: &Request<Incoming>, request_id: &str) -> Response<Body> {
    match req.uri().path() {
        "/health/live" => text_response(StatusCode::OK, "ok\n", request_id),
        "/health/ready" => {
            if state.draining.load(Ordering::Acquire) {
                return text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: shutting down\n",
                    request_id,
                );
            }
            match state.ctx.storage.ping(state.options.database_timeout).await {
                Ok(()) => text_response(StatusCode::OK, "ready\n", request_id),
                Err(e) => {
                    // The cause goes to the log only: this endpoint needs no credentials.
                    tracing::warn!("readiness check failed: {e}");
                    text_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: database unavailable\n",
                        request_id,
                    )
                }
            }
        }
        "/metrics" => {
            let body = Bytes::from(crate::metrics::global().render());
            let gzipped = accepts_gzip(req.headers());
            let body = if gzipped { gzip(body).await } else { body };
            let mut resp = Response::new(Full::new(body.clone()));
            let headers = resp.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            if gzipped {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            set_common_headers(headers, &body, request_id);
            resp
        }
        _ => health(state, req, request_id),
    }
}

/// DynamoDB answers `GET /` with a health line naming the host it was reached at.
fn health(state: &State, req: &Request<Incoming>, request_id: &str) -> Response<Body> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.to_string())
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| format!("dynamodb.{}.amazonaws.com", state.ctx.region));
    text_response(StatusCode::OK, &format!("healthy: {host} "), request_id)
}

fn text_response(status: StatusCode, text: &str, request_id: &str) -> Response<Body> {
    let body = Bytes::from(text.to_string());
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    set_common_headers(headers, &body, request_id);
    resp
}

/// Anything but a POST of JSON is not a DynamoDB call: the service answers 404 with a bare XML
/// UnknownOperationException.
fn not_an_api_call(request_id: &str) -> Response<Body> {
    let body = Bytes::from_static(b"<UnknownOperationException/>\n");
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    set_common_headers(resp.headers_mut(), &body, request_id);
    resp
}

/// A body over 16 MB: 413 with an empty body, and the connection closed (the rest of the body
/// is not read).
fn too_large(request_id: &str, version: Version) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    set_common_headers(resp.headers_mut(), b"", request_id);
    close_after(&mut resp, version);
    resp
}

/// A body that did not arrive in time: 408 with `RequestTimeoutException`, which the SDKs
/// treat as transient and retry, and the connection closed.
fn timed_out(request_id: &str, version: Version) -> Response<Body> {
    let body = Bytes::from_static(
        br#"{"__type":"com.amazon.coral.service#RequestTimeoutException","message":"Request body not received in time"}"#,
    );
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    set_common_headers(headers, &body, request_id);
    close_after(&mut resp, version);
    resp
}

/// Asks HTTP/1 to close the connection after this response (HTTP/2 has no such header; its
/// stream is reset by hyper when the body is left unread).
fn close_after(resp: &mut Response<Body>, version: Version) {
    if version <= Version::HTTP_11 {
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
}

async fn json_response(
    status: StatusCode,
    body: Bytes,
    request_id: &str,
    gzipped: bool,
) -> Response<Body> {
    let body = if gzipped { gzip(body).await } else { body };
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if gzipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    set_common_headers(headers, &body, request_id);
    resp
}

/// `x-amzn-RequestId`, and `x-amz-crc32` over `body` exactly as it goes on the wire.
fn set_common_headers(headers: &mut HeaderMap, body: &[u8], request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    headers.insert("x-amz-crc32", HeaderValue::from(crc32fast::hash(body)));
}

/// DynamoDB's error envelope, with the status the SDKs expect for the error type.
async fn error_response(e: &ApiError, request_id: &str, gzipped: bool) -> Response<Body> {
    if e.kind == ErrorKind::InternalServerError {
        tracing::error!(request_id, "internal error: {}", e.message);
    }
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, Bytes::from(body), request_id, gzipped).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn accept_encoding_is_parsed_with_qualities() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip")])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, GZIP;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&headers(&[])));
    }

    #[test]
    fn content_encoding_is_gzip_identity_or_refused() {
        assert_eq!(request_is_gzipped(&headers(&[])), Ok(false));
        assert_eq!(
            request_is_gzipped(&headers(&[("content-encoding", "identity")])),
            Ok(false)
        );
        assert_eq!(
            request_is_gzipped(&headers(&[("content-encoding", "gzip")])),
            Ok(true)
        );
        assert_eq!(
            request_is_gzipped(&headers(&[("content-encoding", "x-gzip")])),
            Ok(true)
        );
        assert!(request_is_gzipped(&headers(&[("content-encoding", "br")])).is_err());
        assert!(request_is_gzipped(&headers(&[("content-encoding", "gzip, gzip")])).is_err());
    }

    #[tokio::test]
    async fn gzip_round_trips_and_bombs_are_refused() {
        let body = Bytes::from(vec![b'x'; 100_000]);
        assert_eq!(gunzip(gzip(body.clone()).await).await, Ok(body));
        let bomb = gzip(Bytes::from(vec![0u8; MAX_BODY + 1])).await;
        assert_eq!(
            gunzip(bomb).await.map_err(|e| e.kind),
            Err(ErrorKind::RequestEntityTooLarge)
        );
        assert_eq!(
            gunzip(Bytes::from_static(b"not gzip"))
                .await
                .map_err(|e| e.kind),
            Err(ErrorKind::Serialization)
        );
    }
}
