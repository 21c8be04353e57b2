//! SigV4 checked for real when keys are configured, with the Rust SDK signing.

mod support;

use std::sync::OnceLock;

static SECURED: OnceLock<String> = OnceLock::new();

fn secured() -> String {
    SECURED
        .get_or_init(|| {
            support::start_server_with(&[
                "--access-key-id",
                "AKIDGOOD",
                "--secret-access-key",
                "s3cret/KEY+x",
            ])
        })
        .clone()
}

#[tokio::test]
async fn the_right_key_is_accepted() {
    let client = support::client_for(&secured(), "AKIDGOOD", "s3cret/KEY+x");
    client
        .list_tables()
        .send()
        .await
        .expect("signed request accepted");
    client
        .describe_limits()
        .send()
        .await
        .expect("signed request accepted");
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature() {
    let client = support::client_for(&secured(), "AKIDGOOD", "not-the-secret");
    let err = client
        .list_tables()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.meta().code(),
        Some("InvalidSignatureException"),
        "{err:?}"
    );
    assert!(err.meta().message().unwrap().starts_with(
        "The request signature we calculated does not match the signature you provided."
    ));
}

#[tokio::test]
async fn an_unknown_key_is_unrecognized() {
    let client = support::client_for(&secured(), "AKIDOTHER", "s3cret/KEY+x");
    let err = client
        .list_tables()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("UnrecognizedClientException"));
    assert_eq!(
        err.meta().message(),
        Some("The security token included in the request is invalid.")
    );
}

#[tokio::test]
async fn an_old_signature_has_expired() {
    let endpoint = secured();
    let date = "20200101T000000Z";
    let (status, _, body) = support::raw_to(
        &endpoint,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("X-Amz-Date", date),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDGOOD/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            ),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#InvalidSignatureException"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Signature expired: 20200101T000000Z is now earlier than"));
}

#[tokio::test]
async fn without_configured_keys_any_signature_is_accepted() {
    let client = support::client_for(&support::endpoint().await, "ANYTHING", "whatever");
    client
        .list_tables()
        .send()
        .await
        .expect("any credentials accepted without configured keys");
}
