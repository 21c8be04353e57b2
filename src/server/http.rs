//! One HTTP request: route, authenticate, read the body, dispatch, and frame the answer the way
//! DynamoDB does (JSON 1.0, `x-amzn-RequestId`, `x-amz-crc32`, DynamoDB's error envelope).

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use crate::api::{self, Ctx};
use crate::error::{ApiError, ErrorKind};
use crate::validate::Service;

/// DynamoDB accepts request bodies up to 16 MB (a full BatchWriteItem).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The response body type.
pub type Body = Full<Bytes>;

/// Answers one request. Never fails: every problem becomes a DynamoDB error response.
pub async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let started = Instant::now();
    if req.method() == Method::GET {
        return health(ctx, &req, &request_id);
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    let json_type = content_type.is_empty()
        || content_type == "application/json"
        || content_type == "application/x-amz-json-1.0";
    if req.method() != Method::POST || !json_type {
        return not_an_api_call(&request_id);
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let result = process(ctx, req, &target).await;
    let (service_op, status) = (target.as_str(), result.as_ref().map(|_| 200).unwrap_or_else(|e| e.kind.status()));
    tracing::info!(
        target: "dynamo_pg::request",
        op = service_op,
        status,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    match result {
        Ok(body) => json_response(StatusCode::OK, body, &request_id),
        Err(e) => error_response(&e, &request_id),
    }
}

/// The request pipeline, in the order the service applies its checks (dynalite, written against
/// the service, documents it): body parses as JSON, target names a known operation, credentials
/// are present, body is non-empty, shapes are valid; then the operation runs.
async fn process(ctx: &Ctx, req: Request<Incoming>, target: &str) -> Result<Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| ApiError::new(ErrorKind::RequestEntityTooLarge, "Request entity too large"))?
        .to_bytes();
    let input: Option<serde_json::Value> = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|_| ApiError::new(ErrorKind::Serialization, ""))?)
    };
    let (service, operation) = match target.split_once('.') {
        Some((prefix, op)) => match Service::from_target_prefix(prefix) {
            Some(service) if crate::validate::is_known_operation(service, op) => (service, op),
            _ => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
        },
        None => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
    };
    authenticate(ctx, &parts, &body)?;
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
    crate::validate::validate_request(service, operation, &input)?;
    let output = api::dispatch(ctx, service, operation, input).await?;
    serde_json::to_vec(&output)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Checks the request's SigV4 signature against the configured keys. Without configured keys
/// any well-formed signature passes (as DynamoDB Local does), but a signature must be there.
fn authenticate(ctx: &Ctx, parts: &hyper::http::request::Parts, body: &[u8]) -> Result<(), ApiError> {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
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

/// Anything but a POST of JSON is not a DynamoDB call: the service answers 404 with a bare XML
/// UnknownOperationException.
fn not_an_api_call(request_id: &str) -> Response<Body> {
    let body = Bytes::from_static(b"<UnknownOperationException/>\n");
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    set_common_headers(resp.headers_mut(), &body, request_id);
    resp
}

/// DynamoDB answers `GET /` with a health line naming the host it was reached at.
fn health(ctx: &Ctx, req: &Request<Incoming>, request_id: &str) -> Response<Body> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.to_string())
        .unwrap_or_else(|| format!("dynamodb.{}.amazonaws.com", ctx.region));
    let body = Bytes::from(format!("healthy: {host} "));
    let mut resp = Response::new(Full::new(body.clone()));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    set_common_headers(headers, &body, request_id);
    resp
}

fn json_response(status: StatusCode, body: Bytes, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    set_common_headers(headers, &body, request_id);
    resp
}

fn set_common_headers(headers: &mut hyper::HeaderMap, body: &[u8], request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    headers.insert("x-amz-crc32", HeaderValue::from(crc32fast::hash(body)));
}

/// DynamoDB's error envelope, with the status the SDKs expect for the error type.
pub fn error_response(e: &ApiError, request_id: &str) -> Response<Body> {
    if e.kind == ErrorKind::InternalServerError {
        tracing::error!(request_id, "internal error: {}", e.message);
    }
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, Bytes::from(body), request_id)
}
