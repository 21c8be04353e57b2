//! The errors DynamoDB answers to badly signed requests, word for word.
//!
//! The texts come from the service (Amazon's Coral framework, shared by DynamoDB and the other JSON
//! services). Several checks of one stage are reported together: their sentences are concatenated,
//! each ending in `". "`, which is why some messages end with a space. NOTES.md beside this file
//! lists every message with its type and status.

use crate::error::{ApiError, ErrorKind};

/// No `Authorization` header and no `X-Amz-Algorithm` query parameter, or an `Authorization`
/// header that is not SigV4 at all.
pub(crate) fn missing_token() -> ApiError {
    ApiError::new(
        ErrorKind::MissingAuthenticationToken,
        "Request is missing Authentication Token",
    )
}

/// Both ways of signing at once.
pub(crate) fn both_header_and_query() -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignature,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    )
}

/// A comma- or space-separated element of the `Authorization` header without `=`.
pub(crate) fn not_key_value(element: &str, header: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!(
            "'{element}' not a valid key=value pair (missing equal-sign) in Authorization header: \
             '{header}'."
        ),
    )
}

/// The sentence for one missing `Authorization` header parameter.
pub(crate) fn header_requires(param: &str) -> String {
    format!("Authorization header requires '{param}' parameter. ")
}

/// The sentence for a request with neither `X-Amz-Date` nor `Date`.
pub(crate) const HEADER_REQUIRES_DATE: &str =
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";

/// The missing-parts sentences of the header form, followed by the header as received.
pub(crate) fn incomplete_header(sentences: &str, header: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!("{sentences}Authorization={header}"),
    )
}

/// The sentence for one missing presigning query parameter.
pub(crate) fn query_requires(param: &str) -> String {
    format!("AWS query-string parameters must include '{param}'. ")
}

/// The missing-parts sentences of the query form, with the closing advice.
pub(crate) fn incomplete_query(sentences: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!("{sentences}Re-examine the query-string parameters."),
    )
}

/// A request date that is not ISO-8601 basic format (or, for `Date`, not an HTTP date).
pub(crate) fn bad_date(value: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
        ),
    )
}

/// A request signed longer ago than the window allows. `limit` is `now - window`, and `window`
/// reads like `15 min.`.
pub(crate) fn expired(date: &str, limit: &str, now: &str, window: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignatureExpired,
        format!("Signature expired: {date} is now earlier than {limit} ({now} - {window})"),
    )
}

/// A request dated more than 15 minutes into the future. `limit` is `now + 15 min`.
pub(crate) fn not_yet_current(date: &str, limit: &str, now: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignatureExpired,
        format!("Signature not yet current: {date} is still later than {limit} ({now} + 15 min.)"),
    )
}

/// A presigned request whose `X-Amz-Expires` is not a whole number of seconds.
pub(crate) fn bad_expires(value: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!("X-Amz-Expires must be a non-negative integer number of seconds. Got '{value}'."),
    )
}

/// A presigned request valid for longer than a week.
pub(crate) fn expires_too_long() -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    )
}

/// `host` is not among the signed headers.
pub(crate) fn host_not_signed() -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignature,
        "'Host' must be a 'SignedHeader' in the AWS Authorization.",
    )
}

/// An algorithm other than `AWS4-HMAC-SHA256` (SigV4a is not supported by DynamoDB).
pub(crate) fn unsupported_algorithm(algorithm: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!("Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). "),
    )
}

/// A credential that is not `keyid/date/region/service/aws4_request`.
pub(crate) fn credential_shape(credential: &str) -> ApiError {
    ApiError::new(
        ErrorKind::IncompleteSignature,
        format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        ),
    )
}

/// The sentence for a scope naming a region this endpoint does not serve.
pub(crate) fn scope_region(region: &str) -> String {
    format!("Credential should be scoped to a valid region, not '{region}'. ")
}

/// The sentence for a scope naming another service.
pub(crate) const SCOPE_SERVICE: &str =
    "Credential should be scoped to correct service: 'dynamodb'. ";

/// The sentence for a scope not ending in `aws4_request`.
pub(crate) fn scope_terminator(terminator: &str) -> String {
    format!(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    )
}

/// The sentence for a scope date that is not the request's date.
pub(crate) fn scope_date(scope_date: &str, request_date: &str) -> String {
    let day = request_date.get(..8).unwrap_or(request_date);
    format!(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
         '{scope_date}' != '{day}', from '{request_date}'."
    )
}

/// Everything wrong with the credential scope, reported together.
pub(crate) fn bad_scope(sentences: String) -> ApiError {
    ApiError::new(ErrorKind::InvalidSignature, sentences)
}

/// An access key id we do not know.
pub(crate) fn unknown_key() -> ApiError {
    ApiError::new(
        ErrorKind::UnrecognizedClient,
        "The security token included in the request is invalid.",
    )
}

/// An `X-Amz-Content-Sha256` header that is not the hash of the body received.
pub(crate) fn content_sha256_mismatch() -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignature,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
}

/// The first sentences of a signature mismatch.
pub(crate) const MISMATCH: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";

/// A signature that does not match: the fixed text, then (as DynamoDB does) the canonical request
/// and string to sign we computed, so a client author can diff them against their own.
pub(crate) fn signature_mismatch(canonical_request: &str, string_to_sign: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidSignature,
        format!(
            "{MISMATCH}\n\nThe Canonical String for this request should have been\n\
             '{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        ),
    )
}
