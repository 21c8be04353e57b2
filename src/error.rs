//! DynamoDB's error vocabulary.
//!
//! SDKs branch on the error *type* (the `__type` field), retry on the HTTP *status*, and people read
//! the *message*; all three must match what DynamoDB answers, so every failure in the crate ends up
//! as an [`ApiError`] carrying exactly those three things.

use std::fmt;

/// The error types DynamoDB (and DynamoDB Streams) return, with the HTTP status and the namespace
/// each one is reported under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A request that breaks one of DynamoDB's input rules.
    Validation,
    /// The JSON body could not be read as the operation's input shape.
    Serialization,
    /// A table, index or stream that does not exist (or is not ACTIVE where that matters).
    ResourceNotFound,
    /// A table that already exists, or one that is busy with another change.
    ResourceInUse,
    /// `X-Amz-Target` names no operation we know.
    UnknownOperation,
    /// The request carries no credentials at all.
    MissingAuthenticationToken,
    /// A ConditionExpression (or legacy Expected) evaluated to false.
    ConditionalCheckFailed,
    /// A transaction was cancelled; the message lists the reasons.
    TransactionCanceled,
    /// A transaction conflicted with another in-flight one.
    TransactionConflict,
    /// A ClientRequestToken was reused with a different request.
    IdempotentParameterMismatch,
    /// A ClientRequestToken whose first request is still running; the SDKs retry it.
    TransactionInProgress,
    /// Too many concurrent control-plane operations, or a service limit.
    LimitExceeded,
    /// The item collection of an LSI table grew past 10 GB.
    ItemCollectionSizeLimitExceeded,
    /// Something we did not expect; the SDKs retry it.
    InternalServerError,
    /// The backing database is unavailable; the SDKs retry it.
    ServiceUnavailable,
    /// A stream iterator older than 15 minutes.
    ExpiredIterator,
    /// A stream iterator that points behind the trim horizon.
    TrimmedDataAccess,
    /// Wrong SigV4 signature.
    InvalidSignature,
    /// Unknown access key id.
    UnrecognizedClient,
    /// The request's date is outside the accepted window.
    InvalidSignatureExpired,
    /// A SigV4 signature with missing or malformed parts (header parameters, date, credential).
    IncompleteSignature,
    /// The request body is larger than DynamoDB accepts.
    RequestEntityTooLarge,
}

impl ErrorKind {
    /// The short name that goes after `#` in `__type`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::TransactionConflict => "TransactionConflictException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::TransactionInProgress => "TransactionInProgressException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ItemCollectionSizeLimitExceeded => {
                "ItemCollectionSizeLimitExceededException"
            }
            ErrorKind::InternalServerError => "InternalServerError",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::InvalidSignatureExpired => "InvalidSignatureException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::RequestEntityTooLarge => "RequestEntityTooLarge",
        }
    }

    /// The namespace DynamoDB puts before `#`: service errors are in the DynamoDB namespace,
    /// protocol-level ones in Coral's (`com.amazon.coral.validate` for validation,
    /// `com.amazon.coral.service` for deserialization and authentication).
    pub fn namespace(self) -> &'static str {
        match self {
            ErrorKind::Validation => "com.amazon.coral.validate",
            ErrorKind::Serialization
            | ErrorKind::UnknownOperation
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::InvalidSignature
            | ErrorKind::InvalidSignatureExpired
            | ErrorKind::IncompleteSignature
            | ErrorKind::UnrecognizedClient => "com.amazon.coral.service",
            _ => "com.amazonaws.dynamodb.v20120810",
        }
    }

    /// The HTTP status DynamoDB answers with; 5xx ones are retried by every SDK.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InternalServerError => 500,
            ErrorKind::ServiceUnavailable => 503,
            ErrorKind::RequestEntityTooLarge => 413,
            _ => 400,
        }
    }
}

/// A failed request, as DynamoDB reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// Which error it is: decides `__type` and the HTTP status.
    pub kind: ErrorKind,
    /// The human-readable text, word for word as DynamoDB writes it.
    pub message: String,
    /// Extra top-level members of the error body (the `Item` of a ConditionalCheckFailedException,
    /// the `CancellationReasons` of a TransactionCanceledException).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            extra: None,
        }
    }

    /// The most common failure: input that breaks a rule.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A table or index that is not there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    /// An unexpected failure: logged by the caller, reported to the client without details.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalServerError, message)
    }

    /// The `__type` value, `namespace#Name`.
    pub fn type_string(&self) -> String {
        format!("{}#{}", self.kind.namespace(), self.kind.name())
    }

    /// The JSON error body DynamoDB sends. Coral's serialization errors spell the member
    /// `Message`; errors without text (UnknownOperationException) carry no message at all.
    pub fn body(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("__type".into(), self.type_string().into());
        if !self.message.is_empty() {
            let key = if self.kind == ErrorKind::Serialization {
                "Message"
            } else {
                "message"
            };
            map.insert(key.into(), self.message.clone().into());
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        serde_json::Value::Object(map)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// Shorthand for results of API-level work.
pub type ApiResult<T> = Result<T, ApiError>;
