//! Multi-attribute GSI keys through the Rust SDK: a global secondary index keyed by two
//! partition key attributes and two sort key attributes; creation and description, sparse
//! membership, the key condition rules (equality on every partition key attribute, sort key
//! attributes left to right), sort order, paging, and the limits of the key schema.

mod support;

use support::{attr, key};

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, KeyType, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use serde_json::json;

fn s(v: &str) -> AV {
    AV::S(v.into())
}

fn n(v: i64) -> AV {
    AV::N(v.to_string())
}

/// Table `pk` (S) with GSI `g` on [a HASH (S), b HASH (N), c RANGE (S), d RANGE (N)]. Items
/// p0..p19: a = "x", b = 1, c = "c{i % 2}", d = i; p20 lacks `d` (not in the index).
async fn fill(client: &Client, prefix: &str) -> String {
    let name = support::table_name(prefix);
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("a", ScalarAttributeType::S))
        .attribute_definitions(attr("b", ScalarAttributeType::N))
        .attribute_definitions(attr("c", ScalarAttributeType::S))
        .attribute_definitions(attr("d", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(support::gsi(
            "gsi",
            &[
                ("a", KeyType::Hash),
                ("b", KeyType::Hash),
                ("c", KeyType::Range),
                ("d", KeyType::Range),
            ],
            ProjectionType::All,
        ))
        .send()
        .await
        .unwrap();
    for i in 0..20 {
        client
            .put_item()
            .table_name(&name)
            .item("pk", s(&format!("p{i}")))
            .item("a", s("x"))
            .item("b", n(1))
            .item("c", s(&format!("c{}", i % 2)))
            .item("d", n(i))
            .send()
            .await
            .unwrap();
    }
    // Other partitions of the index, and an item missing a key attribute.
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("q1"))
        .item("a", s("x"))
        .item("b", n(2))
        .item("c", s("c0"))
        .item("d", n(1))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("q2"))
        .item("a", s("y"))
        .item("b", n(1))
        .item("c", s("c0"))
        .item("d", n(1))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&name)
        .item("pk", s("p20"))
        .item("a", s("x"))
        .item("b", n(1))
        .item("c", s("c0"))
        .send()
        .await
        .unwrap();
    name
}

/// Query on the index through the raw API: the status and body.
async fn query(
    table: &str,
    kce: &str,
    values: serde_json::Value,
    extra: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut body = json!({"TableName": table, "IndexName": "gsi", "KeyConditionExpression": kce, "ExpressionAttributeValues": values});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    support::call("Query", body).await
}

fn message(body: &serde_json::Value) -> &str {
    body["Message"]
        .as_str()
        .or(body["message"].as_str())
        .unwrap_or_default()
}

fn pks(body: &serde_json::Value) -> Vec<String> {
    body["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["pk"]["S"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn multi_attribute_gsi_keys() {
    let client = support::client().await;
    let name = fill(&client, "multi_key").await;

    // DescribeTable echoes the KeySchema as given.
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let gsi = &described.table().unwrap().global_secondary_indexes()[0];
    let schema: Vec<(String, String)> = gsi
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("a", "HASH"), ("b", "HASH"), ("c", "RANGE"), ("d", "RANGE")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(schema, expected);

    let ab = json!({":a": {"S": "x"}, ":b": {"N": "1"}});
    // Both partition key attributes: the partition, sorted by (c, d); p20 is not in the index.
    let (status, body) = query(&name, "a = :a AND b = :b", ab.clone(), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let mut expected: Vec<(i64, i64)> = (0..20).map(|i| (i % 2, i)).collect();
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(_, i)| format!("p{i}")).collect();
    assert_eq!(pks(&body), expected);

    // Paging: every page's LastEvaluatedKey names all index key attributes and the table key.
    let mut start: Option<serde_json::Value> = None;
    let mut seen = Vec::new();
    loop {
        let mut extra = json!({"Limit": 3});
        if let Some(start) = &start {
            extra["ExclusiveStartKey"] = start.clone();
        }
        let (status, body) = query(&name, "a = :a AND b = :b", ab.clone(), extra).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(pks(&body));
        match body.get("LastEvaluatedKey") {
            Some(last) => {
                let mut names: Vec<&String> = last.as_object().unwrap().keys().collect();
                names.sort();
                assert_eq!(names, ["a", "b", "c", "d", "pk"]);
                start = Some(last.clone());
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);

    // Backwards, with a condition on the first sort key attribute.
    let (status, body) = query(
        &name,
        "a = :a AND b = :b AND c > :c",
        json!({":a": {"S": "x"}, ":b": {"N": "1"}, ":c": {"S": "c0"}}),
        json!({"ScanIndexForward": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        pks(&body),
        ["p19", "p17", "p15", "p13", "p11", "p9", "p7", "p5", "p3", "p1"]
    );

    // Equality on c, BETWEEN on d.
    let (status, body) = query(
        &name,
        "a = :a AND b = :b AND c = :c AND d BETWEEN :lo AND :hi",
        json!({":a": {"S": "x"}, ":b": {"N": "1"}, ":c": {"S": "c1"}, ":lo": {"N": "4"}, ":hi": {"N": "11"}}),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pks(&body), ["p5", "p7", "p9", "p11"]);

    // begins_with on c; conditions in any order.
    let (status, body) = query(
        &name,
        "begins_with(c, :c) AND b = :b AND a = :a",
        json!({":a": {"S": "x"}, ":b": {"N": "2"}, ":c": {"S": "c"}}),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pks(&body), ["q1"]);

    // The rules.
    let errors = [
        ("a = :a", json!({":a": {"S": "x"}}), "HASH key attributes b must have equality conditions specified in the query"),
        ("d = :d", json!({":d": {"N": "1"}}), "HASH key attributes a, b must have equality conditions specified in the query"),
        ("a > :a AND b = :b", ab.clone(), "HASH key attributes a must have equality conditions specified in the query"),
        (
            "a = :a AND b = :b AND d > :d",
            json!({":a": {"S": "x"}, ":b": {"N": "1"}, ":d": {"N": "1"}}),
            "RANGE key attributes c must have equality conditions specified in the query because a condition is present on key attribute d",
        ),
        (
            "a = :a AND b = :b AND c > :c AND d > :d",
            json!({":a": {"S": "x"}, ":b": {"N": "1"}, ":c": {"S": "c"}, ":d": {"N": "1"}}),
            "RANGE key attributes c must have equality conditions specified in the query because a condition is present on key attribute d",
        ),
        ("a = :a AND b = :b AND pk = :p", json!({":a": {"S": "x"}, ":b": {"N": "1"}, ":p": {"S": "p"}}), "Query condition missed key schema element"),
        (
            "a = :a AND b = :a",
            json!({":a": {"S": "x"}}),
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        ("a = :a AND b = :b AND a = :a", ab.clone(), "KeyConditionExpressions must only contain one condition per key"),
    ];
    for (kce, values, expected) in errors {
        let (status, body) = query(&name, kce, values, json!({})).await;
        assert_eq!(status, 400, "{kce}: {body}");
        assert_eq!(message(&body), expected, "{kce}");
    }

    // A write with a wrong-typed index key attribute.
    let (status, body) = support::call(
        "PutItem",
        json!({"TableName": name, "Item": {"pk": {"S": "w"}, "b": {"S": "1"}}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        message(&body),
        "One or more parameter values were invalid: Type mismatch for Index Key"
    );
}

#[tokio::test]
async fn multi_attribute_key_schema_limits() {
    let table = support::table_name("multi_key_limits");
    let defs = json!([
        {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "a", "AttributeType": "S"},
        {"AttributeName": "b", "AttributeType": "N"}, {"AttributeName": "c", "AttributeType": "S"},
        {"AttributeName": "d", "AttributeType": "N"}, {"AttributeName": "e", "AttributeType": "S"}
    ]);
    let ks = |spec: &str| {
        spec.split(' ')
            .map(|e| {
                let (name, ty) = e.split_at(e.len() - 1);
                json!({"AttributeName": name, "KeyType": if ty == "H" { "HASH" } else { "RANGE" }})
            })
            .collect::<Vec<_>>()
    };
    let create = |spec: &str| {
        json!({"TableName": table, "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": defs,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [{"IndexName": "gsi", "KeySchema": ks(spec), "Projection": {"ProjectionType": "ALL"}}]})
    };
    let cases = [
        ("aH bH cH dH eH", "Too many partition keys. GSI can have at most 4 partition keys"),
        ("pkH aR bR cR dR eR", "Too many sort keys. GSI can have at most 4 sort keys"),
        (
            "aH cR bH",
            "Invalid key order. Hash Key must be specified first in key schema, Range Key must be specifed second",
        ),
        ("aH bH aR", "Two keys can not have the same name"),
        ("aH zH", "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [a, z], AttributeDefinitions: [pk, a, b, c, d, e]"),
        (
            "aH bH cH dH pkR aR bR cR eR",
            "Key Schema too big.  Key Schema must at most consist of the hash and range key of a table",
        ),
    ];
    for (spec, expected) in cases {
        let (status, body) = support::call("CreateTable", create(spec)).await;
        assert_eq!(status, 400, "{spec}: {body}");
        assert_eq!(message(&body), expected, "{spec}");
    }
    // Local secondary indexes keep single-attribute keys.
    let (status, body) = support::call(
        "CreateTable",
        json!({"TableName": table, "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": defs,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "e", "KeyType": "RANGE"}],
            "LocalSecondaryIndexes": [{"IndexName": "lsi", "KeySchema": ks("pkH cR dR"), "Projection": {"ProjectionType": "ALL"}}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        message(&body),
        "Key Schema too big.  Key Schema must at most consist of the hash and range key of a table"
    );
}

#[tokio::test]
async fn multi_attribute_gsi_created_by_update_table() {
    let client = support::client().await;
    let name = support::table_name("multi_key_online");
    let (status, body) = support::call(
        "CreateTable",
        json!({"TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for i in 0..10 {
        client
            .put_item()
            .table_name(&name)
            .item("pk", s(&format!("p{i}")))
            .item("a", s(if i < 6 { "x" } else { "y" }))
            .item("c", n(10 - i))
            .send()
            .await
            .unwrap();
    }
    // The index is backfilled from the items already there.
    let (status, body) = support::call(
        "UpdateTable",
        json!({"TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "a", "AttributeType": "S"},
                {"AttributeName": "c", "AttributeType": "N"}],
            "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "gsi",
                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "c", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let keys = &body["TableDescription"]["GlobalSecondaryIndexes"][0]["KeySchema"];
    assert_eq!(keys.as_array().unwrap().len(), 3, "{body}");
    loop {
        let (_, body) = support::call("DescribeTable", json!({"TableName": name})).await;
        if body["Table"]["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = support::call(
        "Query",
        json!({"TableName": name, "IndexName": "gsi", "KeyConditionExpression": "a = :a AND pk = :p AND c <= :c",
            "ExpressionAttributeValues": {":a": {"S": "x"}, ":p": {"S": "p3"}, ":c": {"N": "7"}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pks(&body), ["p3"]);
    let (status, body) = support::call(
        "Query",
        json!({"TableName": name, "IndexName": "gsi", "KeyConditionExpression": "a = :a AND pk = :p AND c < :c",
            "ExpressionAttributeValues": {":a": {"S": "y"}, ":p": {"S": "p3"}, ":c": {"N": "7"}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pks(&body), Vec::<String>::new());
}
