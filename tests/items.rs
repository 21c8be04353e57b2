//! PutItem, GetItem and DeleteItem through the Rust AWS SDK.

mod support;

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue as AV, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType,
};

fn s(v: &str) -> AV {
    AV::S(v.to_string())
}

fn n(v: &str) -> AV {
    AV::N(v.to_string())
}

#[tokio::test]
async fn every_attribute_type_round_trips() {
    let client = support::client().await;
    let name = support::pk_table(&client, "items_types", None).await;
    let mut nested = HashMap::new();
    nested.insert(
        "inner".to_string(),
        AV::L(vec![n("1"), s("two"), AV::Null(true)]),
    );
    let item: HashMap<String, AV> = [
        ("pk", s("all-types")),
        ("s", s("hello \u{0} world")),
        ("n", n("-12.50")),
        ("b", AV::B(Blob::new(vec![0u8, 1, 2, 255]))),
        ("ss", AV::Ss(vec!["a".into(), "b\u{0}".into()])),
        ("ns", AV::Ns(vec!["1".into(), "2.5".into()])),
        (
            "bs",
            AV::Bs(vec![Blob::new(vec![1u8]), Blob::new(vec![2u8])]),
        ),
        ("m", AV::M(nested)),
        ("l", AV::L(vec![AV::Bool(true), AV::Bool(false)])),
        ("null", AV::Null(true)),
        ("bool", AV::Bool(true)),
        ("\u{0}name", s("NUL in a name")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    client
        .put_item()
        .table_name(&name)
        .set_item(Some(item.clone()))
        .send()
        .await
        .unwrap();
    let got = client
        .get_item()
        .table_name(&name)
        .key("pk", s("all-types"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("item");
    assert_eq!(got.len(), item.len());
    assert_eq!(got["s"], s("hello \u{0} world"));
    // Numbers come back normalized.
    assert_eq!(got["n"], n("-12.5"));
    assert_eq!(got["b"], item["b"]);
    assert_eq!(got["m"], item["m"]);
    assert_eq!(got["\u{0}name"], item["\u{0}name"]);
    let mut ss = got["ss"].as_ss().unwrap().clone();
    ss.sort();
    assert_eq!(ss, vec!["a".to_string(), "b\u{0}".to_string()]);
}

#[tokio::test]
async fn return_values_and_consumed_capacity() {
    let client = support::client().await;
    let name = support::pk_table(&client, "items_rv", Some(ScalarAttributeType::N)).await;
    let first = client
        .put_item()
        .table_name(&name)
        .item("pk", s("k"))
        .item("sk", n("1"))
        .item("v", s("one"))
        .return_values(ReturnValue::AllOld)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert!(first.attributes.is_none());
    assert_eq!(first.consumed_capacity.unwrap().capacity_units, Some(1.0));
    let second = client
        .put_item()
        .table_name(&name)
        .item("pk", s("k"))
        .item("sk", n("1"))
        .item("v", s("two"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(second.attributes.unwrap()["v"], s("one"));

    let read = client
        .get_item()
        .table_name(&name)
        .key("pk", s("k"))
        .key("sk", n("1.0"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(read.item.unwrap()["v"], s("two"));
    assert_eq!(read.consumed_capacity.unwrap().capacity_units, Some(0.5));

    let deleted = client
        .delete_item()
        .table_name(&name)
        .key("pk", s("k"))
        .key("sk", n("1"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes.unwrap()["v"], s("two"));
    let gone = client
        .get_item()
        .table_name(&name)
        .key("pk", s("k"))
        .key("sk", n("1"))
        .send()
        .await
        .unwrap();
    assert!(gone.item.is_none());
}

#[tokio::test]
async fn bad_keys_are_rejected_and_change_nothing() {
    let client = support::client().await;
    let name = support::pk_table(&client, "items_badkeys", None).await;
    let err = client
        .put_item()
        .table_name(&name)
        .item("other", s("x"))
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(
        err.meta()
            .message()
            .unwrap()
            .contains("Missing the key pk in the item"),
        "{err:?}"
    );
    let err = client
        .put_item()
        .table_name(&name)
        .item("pk", n("1"))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .meta()
        .message()
        .unwrap()
        .contains("Type mismatch for key pk"));
    let err = client
        .get_item()
        .table_name(&name)
        .key("nope", s("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().message(),
        Some("The provided key element does not match the schema")
    );
    let err = client
        .get_item()
        .table_name("no_such_table_here")
        .key("pk", s("x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    let scan = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.table.unwrap().item_count, Some(0));
}

#[tokio::test]
async fn concurrent_puts_on_one_key_leave_one_whole_item() {
    let client = support::client().await;
    let name = support::pk_table(&client, "items_race", None).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let client = client.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                client
                    .put_item()
                    .table_name(&name)
                    .item("pk", s("hot"))
                    .item("writer", n(&i.to_string()))
                    .item("seq", n(&j.to_string()))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let item = client
        .get_item()
        .table_name(&name)
        .key("pk", s("hot"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item.len(), 3);
    assert_eq!(item["seq"], n("9"));
}
