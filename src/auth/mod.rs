//! AWS Signature Version 4 verification for DynamoDB requests.
//!
//! Every AWS SDK signs each request with SigV4; a server that stands in for DynamoDB has to
//! decide, byte for byte as the SDKs compute it, whether the signature is right, and answer the
//! errors DynamoDB answers when it is not. This module does only that: it is pure (no I/O, the
//! clock is a parameter) so that the HTTP layer can call it with the request's parts and every
//! rule can be tested without a server.
//!
//! The checks run in DynamoDB's order, and the first failing stage decides the error:
//! 1. a signature is present, in the `Authorization` header or the query string, not both;
//! 2. its parts are present and well formed (IncompleteSignatureException);
//! 3. the request date is within 15 minutes of now (or within `X-Amz-Expires` of a presigned
//!    request);
//! 4. `host` is signed, the algorithm is `AWS4-HMAC-SHA256`, the credential has five parts;
//! 5. the credential scope names this region, `dynamodb`, `aws4_request` and the request's date;
//! 6. the access key is known (UnrecognizedClientException);
//! 7. the signature matches (InvalidSignatureException).
//!
//! NOTES.md beside this file lists every message and status, and the decisions taken where
//! DynamoDB's behaviour is not documented.

mod canonical;
mod errors;
mod parse;
mod time;

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use parse::{DateSource, Form};

/// The only signing algorithm DynamoDB accepts.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The service name in the credential scope, for DynamoDB and DynamoDB Streams alike.
const SERVICE: &str = "dynamodb";

/// How far a request's date may be from the server's clock, either way, in seconds.
const SKEW_SECS: i64 = 15 * 60;

/// The longest a presigned request may stay valid (`X-Amz-Expires`), in seconds: one week.
const MAX_EXPIRES_SECS: i64 = 7 * 24 * 3600;

/// The payload hash a presigned request may use instead of hashing the body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = hmac::Hmac<Sha256>;

/// One access key the server accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The public half, sent in the clear in every request's credential scope.
    pub access_key_id: String,
    /// The shared secret the client signs with; never leaves the server.
    pub secret_access_key: String,
    /// The account the key belongs to, for ARNs and per-account data; `None` uses the default.
    pub account_id: Option<String>,
}

/// Keeps the secret out of logs and panic messages.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// The credentials the server accepts, by access key id. Immutable: to rotate keys, build a new
/// store from the new configuration and swap it in (the server holds it behind an `Arc`).
#[derive(Clone, Debug, Default)]
pub struct CredentialStore {
    by_access_key: HashMap<String, Credential>,
}

impl CredentialStore {
    /// A store holding `credentials`. If two share an access key id, the later one wins.
    pub fn new(credentials: Vec<Credential>) -> Self {
        let by_access_key = credentials
            .into_iter()
            .map(|c| (c.access_key_id.clone(), c))
            .collect();
        CredentialStore { by_access_key }
    }

    /// The credential for `access_key_id`, if the server knows it.
    pub fn lookup(&self, access_key_id: &str) -> Option<&Credential> {
        self.by_access_key.get(access_key_id)
    }

    /// True when no key is configured; the server then cannot authenticate anyone.
    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.by_access_key.len()
    }
}

/// What the signature covers of an HTTP request, as received: the HTTP layer fills it in.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path exactly as sent, still percent-encoded (`/`, for DynamoDB).
    pub path: &'a str,
    /// The query string exactly as sent, without `?`.
    pub query: Option<&'a str>,
    /// Every header with its name in lowercase, in the order received, duplicates kept. Over
    /// HTTP/2, `host` must be added from the `:authority` pseudo-header, as the client signed it.
    pub headers: &'a [(String, String)],
    /// The body as received (after any transfer decoding, before any content decoding: a gzip
    /// body is signed compressed).
    pub body: &'a [u8],
}

/// Who sent a correctly signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// The region of the credential scope: the region the client believes it is talking to.
    pub region: String,
    /// The account of the credential, from the configuration.
    pub account_id: Option<String>,
}

/// Decides whether `req` is signed with SigV4 by a key in `store`, at time `now`, for `region`
/// (`None` accepts any region in the credential scope). On success, says who signed it; on
/// failure, gives the error DynamoDB would answer.
pub fn verify(
    req: &RequestParts,
    store: &CredentialStore,
    now: SystemTime,
    region: Option<&str>,
) -> Result<Identity, ApiError> {
    let parts = parse::signature_parts(req)?;

    // The request's date, and the window around now it must fall in.
    let date_secs = match parts.date_source {
        DateSource::AmzDate => time::parse_iso_basic(&parts.date),
        DateSource::HttpDate => {
            time::parse_http_date(&parts.date).or_else(|| time::parse_iso_basic(&parts.date))
        }
    }
    .ok_or_else(|| errors::bad_date(&parts.date))?;
    let date = time::format_iso_basic(date_secs);
    let validity = match (&parts.form, &parts.expires) {
        (Form::Query, Some(expires)) => parse_expires(expires)?,
        _ => SKEW_SECS,
    };
    check_date(date_secs, &date, time::unix_seconds(now), validity)?;

    if !parts
        .signed_headers
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("host"))
    {
        return Err(errors::host_not_signed());
    }
    if parts.algorithm != ALGORITHM {
        return Err(errors::unsupported_algorithm(&parts.algorithm));
    }
    let scope: Vec<&str> = parts.credential.trim_end_matches('/').split('/').collect();
    let [access_key_id, scope_date, scope_region, service, terminator] = scope[..] else {
        return Err(errors::credential_shape(&parts.credential));
    };
    check_scope(scope_date, scope_region, service, terminator, &date, region)?;

    let credential = store
        .lookup(access_key_id)
        .ok_or_else(errors::unknown_key)?;

    let payloads = payload_hashes(req, parts.form)?;
    let scope = format!("{scope_date}/{scope_region}/{service}/{terminator}");
    let signing_key = signing_key(
        &credential.secret_access_key,
        scope_date,
        scope_region,
        service,
    );
    // A signature that is not hex cannot match; it is still checked below, against nothing.
    let provided = hex::decode(&parts.signature).unwrap_or_default();

    let mut first_mismatch = None;
    for canonical_request in canonical_requests(req, &parts, &payloads) {
        let string_to_sign = format!(
            "{ALGORITHM}\n{date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let mut mac = hmac_sha256(&signing_key);
        mac.update(string_to_sign.as_bytes());
        // Constant-time comparison: the time taken says nothing about how much matched.
        if mac.verify_slice(&provided).is_ok() {
            return Ok(Identity {
                access_key_id: credential.access_key_id.clone(),
                region: scope_region.to_string(),
                account_id: credential.account_id.clone(),
            });
        }
        first_mismatch.get_or_insert((canonical_request, string_to_sign));
    }
    let (canonical_request, string_to_sign) = first_mismatch.unwrap_or_default();
    Err(errors::signature_mismatch(
        &canonical_request,
        &string_to_sign,
    ))
}

/// The check when no keys are configured (as DynamoDB Local does it): a request must still carry
/// a well-formed SigV4 signature, but any key, date and signature are accepted.
pub fn check_well_formed(req: &RequestParts) -> Result<(), ApiError> {
    parse::signature_parts(req).map(|_| ())
}

/// `X-Amz-Expires`: whole seconds, at most a week.
fn parse_expires(value: &str) -> Result<i64, ApiError> {
    if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(errors::bad_expires(value));
    }
    let secs: i64 = value.parse().map_err(|_| errors::bad_expires(value))?;
    if secs > MAX_EXPIRES_SECS {
        return Err(errors::expires_too_long());
    }
    Ok(secs)
}

/// Rejects a request dated more than `validity` seconds ago, or more than 15 minutes ahead.
fn check_date(date_secs: i64, date: &str, now_secs: i64, validity: i64) -> Result<(), ApiError> {
    let now = time::format_iso_basic(now_secs);
    let earliest = now_secs.saturating_sub(validity);
    if date_secs < earliest {
        let window = if validity % 60 == 0 {
            format!("{} min.", validity / 60)
        } else {
            format!("{validity} sec.")
        };
        return Err(errors::expired(
            date,
            &time::format_iso_basic(earliest),
            &now,
            &window,
        ));
    }
    let latest = now_secs.saturating_add(SKEW_SECS);
    if date_secs > latest {
        return Err(errors::not_yet_current(
            date,
            &time::format_iso_basic(latest),
            &now,
        ));
    }
    Ok(())
}

/// The credential scope must name this endpoint's region (any non-empty one when unset), the
/// `dynamodb` service, the `aws4_request` terminator and the day of the request's date. All
/// problems are reported at once.
fn check_scope(
    scope_date: &str,
    scope_region: &str,
    service: &str,
    terminator: &str,
    date: &str,
    region: Option<&str>,
) -> Result<(), ApiError> {
    let mut problems = String::new();
    let region_ok = match region {
        Some(region) => scope_region == region,
        None => !scope_region.is_empty(),
    };
    if !region_ok {
        problems.push_str(&errors::scope_region(scope_region));
    }
    if service != SERVICE {
        problems.push_str(errors::SCOPE_SERVICE);
    }
    if terminator != "aws4_request" {
        problems.push_str(&errors::scope_terminator(terminator));
    }
    if date.get(..8) != Some(scope_date) {
        problems.push_str(&errors::scope_date(scope_date, date));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(errors::bad_scope(problems))
    }
}

/// The payload hashes the signer may have used. A client that sends `X-Amz-Content-Sha256` signs
/// with that value, so it must be the body's hash (or, for a presigned request only,
/// `UNSIGNED-PAYLOAD`). Otherwise the header form signs the body's hash, and a presigned request
/// either that or `UNSIGNED-PAYLOAD` (botocore and the JS SDK presign with the latter).
fn payload_hashes(req: &RequestParts, form: Form) -> Result<Vec<String>, ApiError> {
    let body_hash = hex::encode(Sha256::digest(req.body));
    match parse::first_header(req, "x-amz-content-sha256") {
        Some(claimed) if claimed.eq_ignore_ascii_case(&body_hash) => Ok(vec![claimed.to_string()]),
        Some(UNSIGNED_PAYLOAD) if form == Form::Query => Ok(vec![UNSIGNED_PAYLOAD.to_string()]),
        Some(_) => Err(errors::content_sha256_mismatch()),
        None if form == Form::Query => Ok(vec![body_hash, UNSIGNED_PAYLOAD.to_string()]),
        None => Ok(vec![body_hash]),
    }
}

/// Every canonical request the signer may have computed (one, except where the SDKs differ).
fn canonical_requests(
    req: &RequestParts,
    parts: &parse::SignatureParts,
    payloads: &[String],
) -> Vec<String> {
    let paths = canonical::canonical_paths(req.path);
    let queries = canonical::canonical_queries(req.query, parts.form == Form::Query);
    let headers = canonical::canonical_headers(req.headers, &parts.signed_headers);
    let mut out = Vec::new();
    for path in &paths {
        for query in &queries {
            for header_block in &headers {
                for payload in payloads {
                    out.push(canonical::canonical_request(
                        req.method,
                        path,
                        query,
                        header_block,
                        &parts.signed_headers,
                        payload,
                    ));
                }
            }
        }
    }
    out
}

/// A fresh HMAC-SHA256 keyed with `key`.
fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    // `new_from_slice` only fails for MACs with a fixed key length; HMAC takes any length.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn hmac_bytes(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = hmac_sha256(key);
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// SigV4's signing key: the secret narrowed to one day, region and service.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_bytes(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac_bytes(&k_date, region);
    let k_service = hmac_bytes(&k_region, service);
    hmac_bytes(&k_service, "aws4_request")
}

#[cfg(test)]
mod tests;
