//! The HTTP protocol as DynamoDB frames it, checked with raw requests.

mod support;

use serde_json::json;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn responses_carry_request_id_and_crc32() {
    let (status, headers, body) = support::raw(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 200);
    assert!(header(&headers, "x-amzn-requestid").is_some_and(|v| !v.is_empty()));
    let crc: u32 = header(&headers, "x-amz-crc32").unwrap().parse().unwrap();
    assert_eq!(crc, crc32fast::hash(&body));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-amz-json-1.0")
    );
}

#[tokio::test]
async fn missing_authorization_is_rejected() {
    let (status, _, body) = support::raw(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("#MissingAuthenticationTokenException"));
}

#[tokio::test]
async fn unknown_operation_and_malformed_json() {
    let (status, body) = support::call("NoSuchOperation", json!({})).await;
    assert_eq!(status, 400);
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("#UnknownOperationException"));

    let (status, _, body) = support::raw(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc"),
        ],
        b"{not json",
    )
    .await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("#SerializationException"));
}

#[tokio::test]
async fn health_check_names_the_host() {
    let (status, _, body) = support::raw("GET", "/", &[], b"").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).starts_with("healthy: "));
}
