//! Request-shape validation, generated from the AWS API models.
//!
//! Before any rule of its own, DynamoDB reads each request body as its operation's input shape and
//! checks it against the constraints of its API model: a JSON type that does not fit is a
//! SerializationException, and missing required members, string lengths, patterns, enum values,
//! list and map sizes and numeric ranges are a ValidationException that lists up to ten problems in
//! one fixed form (`1 validation error detected: Value 'ab' at ...`). Clients and tests match on
//! these messages, so the rules come from the same model the SDKs are generated from (botocore's
//! `service-2.json`, reduced by `tools/gen_shapes.py` into `shapes.json`) rather than being written
//! by hand per operation; the messages, the order of the checks and a few rules the model does not
//! state follow dynalite, whose validation was recorded against the service. `NOTES.md` beside
//! this file records each message form and its evidence.
//!
//! Of an AttributeValue only the JSON types of its members are checked here; the model module
//! checks the rest.

mod check;
mod pattern;
mod shapes;

use serde_json::Value;

use crate::error::{ApiError, ErrorKind};

/// The API a request is addressed to, told apart by the `X-Amz-Target` prefix: DynamoDB and
/// DynamoDB Streams share an endpoint here but have separate operation sets and models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// `DynamoDB_20120810.*`.
    DynamoDb,
    /// `DynamoDBStreams_20120810.*`.
    Streams,
}

impl Service {
    /// The `X-Amz-Target` prefix (before the `.`) that addresses this service, so the dispatcher
    /// and this module agree on the names.
    pub fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::Streams => "DynamoDBStreams_20120810",
        }
    }

    /// The service an `X-Amz-Target` prefix names, if any; the inverse of
    /// [`Service::target_prefix`].
    pub fn from_target_prefix(prefix: &str) -> Option<Service> {
        [Service::DynamoDb, Service::Streams]
            .into_iter()
            .find(|s| s.target_prefix() == prefix)
    }
}

fn service_model(service: Service) -> Result<&'static shapes::ServiceModel, ApiError> {
    let models = shapes::models().map_err(ApiError::internal)?;
    Ok(match service {
        Service::DynamoDb => &models.dynamodb,
        Service::Streams => &models.streams,
    })
}

/// Whether `operation` is in `service`'s API model, so the dispatcher can answer
/// UnknownOperationException for anything else (exact, case-sensitive names, as the service
/// matches them).
pub fn is_known_operation(service: Service, operation: &str) -> bool {
    service_model(service).is_ok_and(|m| m.operations.contains_key(operation))
}

/// Every operation in `service`'s API model, sorted: lets the server and its tests enumerate what
/// the model defines (for instance to tell "unknown" from "not implemented").
pub fn operation_names(service: Service) -> Vec<&'static str> {
    service_model(service)
        .map(|m| m.operation_names.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Checks a request body against `operation`'s input shape, exactly as the service does before
/// any operation-specific rule, so that malformed requests fail with the service's error type and
/// message.
///
/// - A JSON type that does not fit (a number where a string belongs, a string where a list belongs,
///   an object where a string belongs, ...), anywhere in the body including inside
///   AttributeValues, is a SerializationException (`NUMBER_VALUE cannot be converted to String`),
///   the first one in the service's order, reported alone.
/// - For the table-level operations (CreateTable, DescribeTable, UpdateTable, ...), a missing
///   `TableName` gives `The parameter 'TableName' is required but was not present in the request`,
///   and a plain name shorter than 3 or longer than 255 characters
///   `TableName must be at least 3 characters long and at most 255 characters long`, alone.
/// - Constraint violations give one ValidationException:
///   `N validation error(s) detected: Value 'x' at 'path' failed to satisfy constraint: ...; ...`
///   listing at most ten (the item operations' `TableName` is checked here too).
///
/// Lenient as the service is: members the model does not know are ignored, a member sent as JSON
/// `null` counts as absent, a body that is not a JSON object reads as `{}`, integer members take
/// a fraction (rounded down), and boolean members take the strings `true`/`false`, `1`/`0` and
/// `yes`/`no` in any case. Callers that deserialize the body themselves must be as lenient. An
/// operation the model does not define is an UnknownOperationException (callers normally check
/// [`is_known_operation`] first).
pub fn validate_request(service: Service, operation: &str, body: &Value) -> Result<(), ApiError> {
    let model = service_model(service)?;
    let Some(op) = model.operations.get(operation) else {
        return Err(ApiError::new(ErrorKind::UnknownOperation, ""));
    };
    check::check_request(model, op, body)
}

/// Rewrites, in place, the values of a request that [`validate_request`] accepted but that a
/// plain reader would not: a boolean member sent as a string (`"yes"`, `"FALSE"`, `"1"`, ...)
/// becomes `true`/`false`, and an integer member sent with a fraction (`1.5`) becomes the integer
/// the service reads (`1`, rounded down). Call it after `validate_request` succeeds so that the
/// operation can read `ConsistentRead` with `Value::as_bool` and `Limit` with `Value::as_i64`.
/// Unknown operations and other values are left alone.
pub fn normalize_request(service: Service, operation: &str, body: &mut Value) {
    if let Ok(model) = service_model(service) {
        if let Some(op) = model.operations.get(operation) {
            check::normalize_request(model, op, body);
        }
    }
}

#[cfg(test)]
mod tests;
