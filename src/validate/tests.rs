//! The message forms of NOTES.md, word for word.

use serde_json::{json, Value};

use super::*;

fn ddb(op: &str, body: Value) -> Result<(), ApiError> {
    validate_request(Service::DynamoDb, op, &body)
}

/// The ValidationException message, failing the test on any other outcome.
fn validation(op: &str, body: Value) -> String {
    match ddb(op, body) {
        Err(e) if e.kind == ErrorKind::Validation => e.message,
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

/// The SerializationException message, failing the test on any other outcome.
fn serialization(op: &str, body: Value) -> String {
    match ddb(op, body) {
        Err(e) if e.kind == ErrorKind::Serialization => e.message,
        other => panic!("expected a SerializationException, got {other:?}"),
    }
}

fn key() -> Value {
    json!({"id": {"S": "1"}})
}

fn create_table(extra: Value) -> Value {
    let mut body = json!({
        "TableName": "abc",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

#[test]
fn valid_requests_pass() {
    assert_eq!(ddb("CreateTable", create_table(json!({}))), Ok(()));
    assert_eq!(
        ddb(
            "CreateTable",
            create_table(json!({
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                "GlobalSecondaryIndexes": [{
                    "IndexName": "gsi",
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", "b"]},
                }],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"},
                "Tags": [{"Key": "k", "Value": ""}],
            }))
        ),
        Ok(())
    );
    assert_eq!(
        ddb(
            "PutItem",
            json!({"TableName": "abc", "Item": key(), "ReturnValues": "ALL_OLD"})
        ),
        Ok(())
    );
    assert_eq!(
        ddb(
            "Query",
            json!({
                "TableName": "abc", "IndexName": "gsi", "Limit": 10, "ScanIndexForward": false,
                "KeyConditionExpression": "#k = :v", "ExpressionAttributeNames": {"#k": "id"},
                "ExpressionAttributeValues": {":v": {"S": "1"}}, "ExclusiveStartKey": key(),
                "ReturnConsumedCapacity": "TOTAL", "Select": "COUNT",
            })
        ),
        Ok(())
    );
    assert_eq!(
        ddb(
            "BatchWriteItem",
            json!({"RequestItems": {"abc": [{"PutRequest": {"Item": key()}}, {"DeleteRequest": {"Key": key()}}]}})
        ),
        Ok(())
    );
    assert_eq!(
        ddb(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Update": {"TableName": "abc", "Key": key(), "UpdateExpression": "SET a = :a",
                            "ExpressionAttributeValues": {":a": {"N": "1"}}}},
                {"ConditionCheck": {"TableName": "abd", "Key": key(), "ConditionExpression": "attribute_exists(id)"}},
            ], "ClientRequestToken": "token-1"})
        ),
        Ok(())
    );
    assert_eq!(ddb("ListTables", json!({})), Ok(()));
    assert_eq!(ddb("DescribeEndpoints", json!({})), Ok(()));
    assert_eq!(ddb("DescribeEndpoints", json!([1])), Ok(()));
    assert_eq!(
        ddb(
            "PutItem",
            json!({"TableName": "abc", "Item": {
                "s": {"S": "x"}, "n": {"N": "1"}, "b": {"B": "YQ=="}, "t": {"BOOL": true},
                "z": {"NULL": true}, "ss": {"SS": ["a"]}, "ns": {"NS": ["1"]}, "bs": {"BS": ["YWI="]},
                "l": {"L": [{"S": "x"}, {"M": {"k": {"N": "2"}}}]}, "m": {"M": {}},
            }})
        ),
        Ok(())
    );
    assert_eq!(
        validate_request(
            Service::Streams,
            "GetShardIterator",
            &json!({
                "StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/abc/stream/2026-01-01T00:00:00.000",
                "ShardId": "shardId-00000001700000000000-abcdef01",
                "ShardIteratorType": "TRIM_HORIZON",
            })
        ),
        Ok(())
    );
}

#[test]
fn table_operations_check_the_table_name_first_and_alone() {
    let required = "The parameter 'TableName' is required but was not present in the request";
    let length = "TableName must be at least 3 characters long and at most 255 characters long";
    for op in [
        "CreateTable",
        "DeleteTable",
        "DescribeTable",
        "DescribeTimeToLive",
        "UpdateTable",
        "UpdateTimeToLive",
        "DescribeContinuousBackups",
    ] {
        assert_eq!(validation(op, json!({})), required, "{op}");
        assert_eq!(validation(op, json!({"TableName": null})), required, "{op}");
        assert_eq!(validation(op, json!({"TableName": "ab"})), length, "{op}");
        assert_eq!(validation(op, json!({"TableName": ""})), length, "{op}");
        assert_eq!(
            validation(op, json!({"TableName": "a".repeat(256)})),
            length,
            "{op}"
        );
    }
    // Alone: other violations in the same request are not reported.
    assert_eq!(
        validation("CreateTable", json!({"KeySchema": [], "BillingMode": "X"})),
        required
    );
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({"TableName": "a;", "BillingMode": "X"}))
        ),
        length
    );
    // A name of valid length with a bad character is a model violation, in the aggregate.
    assert_eq!(
        validation("DescribeTable", json!({"TableName": "a b!"})),
        "1 validation error detected: Value 'a b!' at 'tableName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({"TableName": "abc;", "BillingMode": "X"}))
        ),
        "2 validation errors detected: Value 'abc;' at 'tableName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'X' at \
         'billingMode' failed to satisfy constraint: Member must satisfy enum value set: \
         [PROVISIONED, PAY_PER_REQUEST]"
    );
    assert_eq!(
        ddb("DescribeTable", json!({"TableName": "a".repeat(255)})),
        Ok(())
    );
    // A type mismatch comes before the table name check.
    assert_eq!(
        serialization("CreateTable", json!({"BillingMode": 5})),
        "NUMBER_VALUE cannot be converted to String"
    );
    // Length counts UTF-16 code units: two characters outside the BMP are four.
    assert_eq!(
        validation("DescribeTable", json!({"TableName": "\u{1F600}"})),
        length
    );
    assert_eq!(
        validation("DescribeTable", json!({"TableName": "\u{1F600}\u{1F600}"})),
        "1 validation error detected: Value '\u{1F600}\u{1F600}' at 'tableName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    // Other required members of a table operation use the aggregate form.
    assert_eq!(
        validation("UpdateTimeToLive", json!({"TableName": "abc"})),
        "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn item_operations_validate_the_table_name_in_the_aggregate() {
    assert_eq!(
        validation("GetItem", json!({})),
        "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint: \
         Member must not be null; Value null at 'key' failed to satisfy constraint: Member must \
         not be null"
    );
    assert_eq!(
        validation("PutItem", json!({"TableName": "abc"})),
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member \
         must not be null"
    );
    assert_eq!(
        validation("GetItem", json!({"TableName": "ab", "Key": key()})),
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: \
         Member must have length greater than or equal to 3"
    );
    let long = "a".repeat(256);
    assert_eq!(
        validation("Query", json!({"TableName": long})),
        format!(
            "1 validation error detected: Value '{long}' at 'tableName' failed to satisfy \
             constraint: Member must have length less than or equal to 255"
        )
    );
    // Pattern, then minimum length, for one value.
    assert_eq!(
        validation("DeleteItem", json!({"TableName": "", "Key": key()})),
        "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'tableName' \
         failed to satisfy constraint: Member must have length greater than or equal to 3"
    );
    // The members in the service's order (dynalite's), not the model's.
    assert_eq!(
        validation(
            "GetItem",
            json!({"TableName": "abc;", "ReturnConsumedCapacity": "hi", "AttributesToGet": []})
        ),
        "4 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy \
         constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '[]' at \
         'attributesToGet' failed to satisfy constraint: Member must have length greater than or \
         equal to 1; Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy \
         regular expression pattern: [a-zA-Z0-9_.-]+; Value null at 'key' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn short_and_long_table_names_elsewhere() {
    assert_eq!(
        validation("ListTables", json!({"ExclusiveStartTableName": "ab"})),
        "1 validation error detected: Value 'ab' at 'exclusiveStartTableName' failed to satisfy \
         constraint: Member must have length greater than or equal to 3"
    );
    assert_eq!(
        validation(
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "ab", "Key": key()}}]})
        ),
        "1 validation error detected: Value 'ab' at 'transactItems.1.member.get.tableName' failed \
         to satisfy constraint: Member must have length greater than or equal to 3"
    );
    // ListTables: limit before exclusiveStartTableName; pattern, then maximum length.
    let bad = format!("89hls;;f;d{}", "x".repeat(250));
    assert_eq!(
        validation(
            "ListTables",
            json!({"ExclusiveStartTableName": bad, "Limit": 2_147_483_647})
        ),
        format!(
            "3 validation errors detected: Value '2147483647' at 'limit' failed to satisfy \
             constraint: Member must have value less than or equal to 100; Value '{bad}' at \
             'exclusiveStartTableName' failed to satisfy constraint: Member must satisfy regular \
             expression pattern: [a-zA-Z0-9_.-]+; Value '{bad}' at 'exclusiveStartTableName' \
             failed to satisfy constraint: Member must have length less than or equal to 255"
        )
    );
}

#[test]
fn table_arns_are_held_to_arn_limits() {
    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/abc";
    assert_eq!(
        ddb("GetItem", json!({"TableName": arn, "Key": key()})),
        Ok(())
    );
    assert_eq!(ddb("DescribeTable", json!({"TableName": arn})), Ok(()));
    assert_eq!(
        ddb(
            "BatchGetItem",
            json!({"RequestItems": {arn: {"Keys": [key()]}}})
        ),
        Ok(())
    );
    let long = format!("arn:{}", "x".repeat(1021));
    assert_eq!(
        validation("GetItem", json!({"TableName": long, "Key": key()})),
        format!(
            "1 validation error detected: Value '{long}' at 'tableName' failed to satisfy \
             constraint: Member must have length less than or equal to 1024"
        )
    );
    assert_eq!(
        validation("DescribeTable", json!({"TableName": long})),
        format!(
            "1 validation error detected: Value '{long}' at 'tableName' failed to satisfy \
             constraint: Member must have length less than or equal to 1024"
        )
    );
}

#[test]
fn enums_in_the_services_order() {
    let body = create_table(
        json!({"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "STRING"}]}),
    );
    assert_eq!(
        validation("CreateTable", body),
        "1 validation error detected: Value 'STRING' at 'attributeDefinitions.1.member.attributeType' \
         failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
    );
    assert_eq!(
        validation(
            "PutItem",
            json!({"TableName": "abc", "Item": key(), "ReturnConsumedCapacity": "ALL"})
        ),
        "1 validation error detected: Value 'ALL' at 'returnConsumedCapacity' failed to satisfy \
         constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
    );
    assert_eq!(
        validation(
            "Scan",
            json!({"TableName": "abc", "ScanFilter": {"a": {"ComparisonOperator": "LIKE"}}})
        ),
        "1 validation error detected: Value 'LIKE' at 'scanFilter.a.member.comparisonOperator' \
         failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, \
         NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
    );
    let body = create_table(json!({"GlobalSecondaryIndexes": [{
        "IndexName": "gsi",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "SOME"},
    }]}));
    assert_eq!(
        validation("CreateTable", body),
        "1 validation error detected: Value 'SOME' at \
         'globalSecondaryIndexes.1.member.projection.projectionType' failed to satisfy \
         constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
    );
    assert_eq!(
        validation(
            "DeleteItem",
            json!({"TableName": "abc", "Key": key(), "ConditionalOperator": "XOR", "ReturnValues": "ALL"})
        ),
        "2 validation errors detected: Value 'ALL' at 'returnValues' failed to satisfy \
         constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, \
         UPDATED_NEW]; Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: Member \
         must satisfy enum value set: [OR, AND]"
    );
}

#[test]
fn required_members_inside_structures() {
    assert_eq!(
        validation("GetItem", json!({"TableName": "abc"})),
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must \
         not be null"
    );
    assert_eq!(
        validation("TransactGetItems", json!({})),
        "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: \
         Member must not be null"
    );
    assert_eq!(
        validation("UpdateTimeToLive", json!({"TableName": "abc", "TimeToLiveSpecification": {"Enabled": true}})),
        "1 validation error detected: Value null at 'timeToLiveSpecification.attributeName' failed \
         to satisfy constraint: Member must not be null"
    );
    // ProvisionedThroughput: writeCapacityUnits before readCapacityUnits.
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({"ProvisionedThroughput": {}}))
        ),
        "2 validation errors detected: Value null at 'provisionedThroughput.writeCapacityUnits' \
         failed to satisfy constraint: Member must not be null; Value null at \
         'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must not \
         be null"
    );
}

#[test]
fn several_errors_in_the_services_member_order() {
    assert_eq!(
        validation(
            "Query",
            json!({"TableName": "abc", "Limit": 0, "Select": "ALL", "IndexName": "ab"})
        ),
        "3 validation errors detected: Value 'ALL' at 'select' failed to satisfy constraint: Member \
         must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, \
         ALL_PROJECTED_ATTRIBUTES]; Value 'ab' at 'indexName' failed to satisfy constraint: Member \
         must have length greater than or equal to 3; Value '0' at 'limit' failed to satisfy \
         constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        validation(
            "Scan",
            json!({"TableName": "abc", "Segment": -1, "TotalSegments": 1_000_001})
        ),
        "2 validation errors detected: Value '1000001' at 'totalSegments' failed to satisfy \
         constraint: Member must have value less than or equal to 1000000; Value '-1' at 'segment' \
         failed to satisfy constraint: Member must have value greater than or equal to 0"
    );
    // CreateTable: billingMode and provisionedThroughput before keySchema.
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({
                "KeySchema": [],
                "BillingMode": "X",
                "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            }))
        ),
        "4 validation errors detected: Value 'X' at 'billingMode' failed to satisfy constraint: \
         Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]; Value '0' at \
         'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: Member must \
         have value greater than or equal to 1; Value '0' at \
         'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have \
         value greater than or equal to 1; Value '[]' at 'keySchema' failed to satisfy \
         constraint: Member must have length greater than or equal to 1"
    );
}

#[test]
fn at_most_ten_errors_are_listed() {
    let defs: Vec<Value> = (0..12)
        .map(|i| json!({"AttributeName": format!("a{i}"), "AttributeType": "X"}))
        .collect();
    let msg = validation(
        "CreateTable",
        create_table(json!({"AttributeDefinitions": defs})),
    );
    assert!(msg.starts_with(
        "10 validation errors detected: Value 'X' at 'attributeDefinitions.1.member.attributeType'"
    ));
    assert_eq!(msg.matches("failed to satisfy constraint").count(), 10);
    assert!(msg.contains("'attributeDefinitions.10.member.attributeType'"));
    assert!(!msg.contains("'attributeDefinitions.11.member.attributeType'"));
    // Also when the entries of one map break the cap.
    let tables: serde_json::Map<String, Value> = (0..12)
        .map(|i| (format!("t{i}"), json!({"Keys": [key()]})))
        .collect();
    let msg = validation("BatchGetItem", json!({"RequestItems": tables}));
    assert!(msg.starts_with("10 validation errors detected: "), "{msg}");
    assert_eq!(msg.matches("Map keys must satisfy constraint").count(), 10);
}

#[test]
fn list_and_map_lengths() {
    let items: Vec<Value> = (0..101)
        .map(|_| json!({"Get": {"TableName": "abc", "Key": key()}}))
        .collect();
    let msg = validation("TransactGetItems", json!({"TransactItems": items}));
    assert!(msg.starts_with(
        "1 validation error detected: Value '[com.amazonaws.dynamodb.v20120810.TransactGetItem@"
    ));
    assert!(msg.ends_with(
        "]' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100"
    ));
    assert_eq!(
        validation("TransactGetItems", json!({"TransactItems": []})),
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
    let names: Vec<String> = (0..21).map(|i| format!("a{i}")).collect();
    let body = create_table(json!({"GlobalSecondaryIndexes": [{
        "IndexName": "gsi",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": names},
    }]}));
    assert_eq!(
        validation("CreateTable", body),
        format!(
            "1 validation error detected: Value '[{}]' at \
             'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy \
             constraint: Member must have length less than or equal to 20",
            names.join(", ")
        )
    );
    // AttributesToGet: at most 255 names (dynalite; the model states no maximum).
    let names: Vec<String> = (0..256).map(|i| format!("a{i}")).collect();
    assert_eq!(
        validation(
            "GetItem",
            json!({"TableName": "abc", "Key": key(), "AttributesToGet": names})
        ),
        format!(
            "1 validation error detected: Value '[{}]' at 'attributesToGet' failed to satisfy \
             constraint: Member must have length less than or equal to 255",
            names.join(", ")
        )
    );
    let tables: serde_json::Map<String, Value> = (0..26)
        .map(|i| (format!("t{i:02}"), json!([{"PutRequest": {"Item": key()}}])))
        .collect();
    let msg = validation("BatchWriteItem", json!({"RequestItems": tables}));
    assert!(msg.starts_with(
        "1 validation error detected: Value '{t00=[com.amazonaws.dynamodb.v20120810.WriteRequest@"
    ));
    assert!(msg.ends_with(
        "]}' at 'requestItems' failed to satisfy constraint: Member must have length less than or \
         equal to 25"
    ));
}

#[test]
fn map_keys_and_values_use_the_bracketed_form() {
    let requests: Vec<Value> = (0..26)
        .map(|_| json!({"PutRequest": {"Item": key()}}))
        .collect();
    let msg = validation("BatchWriteItem", json!({"RequestItems": {"abc": requests}}));
    assert!(msg.starts_with(
        "1 validation error detected: Value '{abc=[com.amazonaws.dynamodb.v20120810.WriteRequest@"
    ));
    assert!(msg.ends_with(
        "]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: \
         [Member must have length less than or equal to 25, Member must have length greater than \
         or equal to 1]"
    ));
    assert_eq!(
        validation("BatchWriteItem", json!({"RequestItems": {"abc": []}})),
        "1 validation error detected: Value '{abc=[]}' at 'requestItems' failed to satisfy \
         constraint: Map value must satisfy constraint: [Member must have length less than or \
         equal to 25, Member must have length greater than or equal to 1]"
    );
    // A null value breaks the constraints too (dynalite).
    assert_eq!(
        validation("BatchWriteItem", json!({"RequestItems": {"abc": null}})),
        "1 validation error detected: Value '{abc=null}' at 'requestItems' failed to satisfy \
         constraint: Map value must satisfy constraint: [Member must have length less than or \
         equal to 25, Member must have length greater than or equal to 1]"
    );
    let msg = validation(
        "BatchGetItem",
        json!({"RequestItems": {"a": {"Keys": [key()]}}}),
    );
    assert!(msg.starts_with("1 validation error detected: Value '{a=com.amazonaws.dynamodb.v20120810.KeysAndAttributes@"));
    assert!(msg.ends_with(
        "}' at 'requestItems' failed to satisfy constraint: Map keys must satisfy constraint: \
         [Member must have length less than or equal to 255, Member must have length greater than \
         or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]"
    ));
    // One violation per offending key.
    let msg = validation(
        "BatchWriteItem",
        json!({"RequestItems": {"a": [{"DeleteRequest": {"Key": key()}}], "b;": [{"DeleteRequest": {"Key": key()}}]}}),
    );
    assert!(msg.starts_with("2 validation errors detected: "), "{msg}");
    assert_eq!(msg.matches("Map keys must satisfy constraint").count(), 2);
    assert_eq!(
        validation("BatchGetItem", json!({"RequestItems": {}})),
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
    assert_eq!(
        validation("BatchGetItem", json!({})),
        "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: \
         Member must not be null"
    );
    // A string map value with a model constraint.
    let long = "n".repeat(65536);
    let msg = validation(
        "GetItem",
        json!({"TableName": "abc", "Key": key(), "ExpressionAttributeNames": {"#n": long}}),
    );
    assert!(msg.ends_with(
        "' at 'expressionAttributeNames' failed to satisfy constraint: Map value must satisfy \
         constraint: [Member must have length less than or equal to 65535]"
    ));
}

#[test]
fn list_element_constraints_use_the_bracketed_form() {
    let body = create_table(json!({"GlobalSecondaryIndexes": [{
        "IndexName": "gsi",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", "", "b"]},
    }]}));
    assert_eq!(
        validation("CreateTable", body),
        "1 validation error detected: Value '[a, , b]' at \
         'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy \
         constraint: Member must satisfy constraint: [Member must have length less than or equal \
         to 255, Member must have length greater than or equal to 1]"
    );
    assert_eq!(
        validation(
            "UntagResource",
            json!({"ResourceArn": "arn:x", "TagKeys": ["", null]})
        ),
        "2 validation errors detected: Value '[, null]' at 'tagKeys' failed to satisfy \
         constraint: Member must satisfy constraint: [Member must have length less than or equal \
         to 128, Member must have length greater than or equal to 1]; Value '[, null]' at \
         'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must \
         have length less than or equal to 128, Member must have length greater than or equal to \
         1]"
    );
}

#[test]
fn nested_member_paths() {
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({"KeySchema": [{"KeyType": "HASH"}]}))
        ),
        "1 validation error detected: Value null at 'keySchema.1.member.attributeName' failed to \
         satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation(
            "BatchGetItem",
            json!({"RequestItems": {"abc": {}}, "ReturnConsumedCapacity": "X"})
        ),
        "2 validation errors detected: Value 'X' at 'returnConsumedCapacity' failed to satisfy \
         constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value null at \
         'requestItems.abc.member.keys' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation("BatchWriteItem", json!({"RequestItems": {"abc": [{"PutRequest": {}}]}})),
        "1 validation error detected: Value null at 'requestItems.abc.member.1.member.putRequest.item' \
         failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation(
            "UpdateItem",
            json!({"TableName": "abc", "Key": key(), "AttributeUpdates": {"n": {"Action": "SET"}}})
        ),
        "1 validation error detected: Value 'SET' at 'attributeUpdates.n.member.action' failed to \
         satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
    );
    assert_eq!(
        validation(
            "CreateTable",
            create_table(json!({"SSESpecification": {"SSEType": "X"}}))
        ),
        "1 validation error detected: Value 'X' at 'sSESpecification.sSEType' failed to satisfy \
         constraint: Member must satisfy enum value set: [AES256, KMS]"
    );
    // UpdateTable's Create action: projection before indexName before keySchema.
    assert_eq!(
        validation(
            "UpdateTable",
            json!({"TableName": "abc", "GlobalSecondaryIndexUpdates": [{"Create": {"KeySchema": []}}]})
        ),
        "3 validation errors detected: Value null at \
         'globalSecondaryIndexUpdates.1.member.create.projection' failed to satisfy constraint: \
         Member must not be null; Value null at \
         'globalSecondaryIndexUpdates.1.member.create.indexName' failed to satisfy constraint: \
         Member must not be null; Value '[]' at \
         'globalSecondaryIndexUpdates.1.member.create.keySchema' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
}

#[test]
fn type_mismatches_are_serialization_exceptions() {
    let get_item = [
        (
            json!({"TableName": 123}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"TableName": 1.5}),
            "DECIMAL_VALUE cannot be converted to String",
        ),
        (
            json!({"TableName": true}),
            "TRUE_VALUE cannot be converted to String",
        ),
        (
            json!({"TableName": false}),
            "FALSE_VALUE cannot be converted to String",
        ),
        (
            json!({"TableName": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"TableName": []}),
            "Unrecognized collection type class java.lang.String",
        ),
        (json!({"Key": "x"}), "Unexpected field type"),
        (json!({"Key": 5}), "Unexpected field type"),
        (
            json!({"Key": []}),
            "Unrecognized collection type java.util.Map<java.lang.String, \
             com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
        (
            json!({"Key": {"id": "x"}}),
            "Unexpected value type in payload",
        ),
        (
            json!({"Key": {"id": [1]}}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
        (
            json!({"ConsistentRead": "maybe"}),
            "Unexpected token received from parser",
        ),
        (
            json!({"ConsistentRead": 1}),
            "NUMBER_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"ConsistentRead": 0.5}),
            "DECIMAL_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"ConsistentRead": []}),
            "Unrecognized collection type class java.lang.Boolean",
        ),
        (
            json!({"ConsistentRead": {}}),
            "Start of structure or map found where not expected",
        ),
        (json!({"AttributesToGet": "a"}), "Unexpected field type"),
        (
            json!({"AttributesToGet": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"AttributesToGet": [1]}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"ExpressionAttributeNames": []}),
            "Unrecognized collection type java.util.Map<java.lang.String, java.lang.String>",
        ),
        (
            json!({"ExpressionAttributeNames": {"#a": 1}}),
            "NUMBER_VALUE cannot be converted to String",
        ),
    ];
    for (body, expected) in get_item {
        assert_eq!(
            serialization("GetItem", body.clone()),
            expected,
            "body {body}"
        );
    }
    let scan = [
        (
            json!({"Limit": "5"}),
            "STRING_VALUE cannot be converted to Integer",
        ),
        (
            json!({"Limit": false}),
            "FALSE_VALUE cannot be converted to Integer",
        ),
        (
            json!({"Limit": true}),
            "TRUE_VALUE cannot be converted to Integer",
        ),
        (
            json!({"Limit": []}),
            "Unrecognized collection type class java.lang.Integer",
        ),
        (
            json!({"Limit": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"ScanFilter": {"a": 5}}),
            "Unexpected value type in payload",
        ),
        (
            json!({"ScanFilter": {"a": []}}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.Condition",
        ),
        (
            json!({"ScanFilter": []}),
            "Unrecognized collection type java.util.Map<java.lang.String, \
             com.amazonaws.dynamodb.v20120810.Condition>",
        ),
    ];
    for (body, expected) in scan {
        assert_eq!(serialization("Scan", body.clone()), expected, "body {body}");
    }
    let create = [
        (json!({"ProvisionedThroughput": 5}), "Unexpected field type"),
        (
            json!({"ProvisionedThroughput": []}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.ProvisionedThroughput",
        ),
        (
            json!({"ProvisionedThroughput": {"ReadCapacityUnits": "1"}}),
            "STRING_VALUE cannot be converted to Long",
        ),
        (json!({"KeySchema": ["x"]}), "Unexpected value type in payload"),
        (
            json!({"KeySchema": [[]]}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.KeySchemaElement",
        ),
    ];
    for (body, expected) in create {
        assert_eq!(
            serialization("CreateTable", body.clone()),
            expected,
            "body {body}"
        );
    }
    // A list as a map value, a map as a list element: the generic-type failure.
    let class_cast = "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot \
                      be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.\
                      ParameterizedTypeImpl and java.lang.Class are in module java.base of loader \
                      'bootstrap')";
    assert_eq!(
        serialization("BatchWriteItem", json!({"RequestItems": {"abc": "x"}})),
        class_cast
    );
    assert_eq!(
        serialization("BatchWriteItem", json!({"RequestItems": {"abc": {}}})),
        "Start of structure or map found where not expected"
    );
    assert_eq!(
        serialization("BatchWriteItem", json!({"RequestItems": []})),
        "Unrecognized collection type java.util.Map<java.lang.String, \
         java.util.List<com.amazonaws.dynamodb.v20120810.WriteRequest>>"
    );
    assert_eq!(
        serialization(
            "BatchGetItem",
            json!({"RequestItems": {"abc": {"Keys": [5]}}})
        ),
        class_cast
    );
    assert_eq!(
        serialization(
            "BatchGetItem",
            json!({"RequestItems": {"abc": {"Keys": [[]]}}})
        ),
        "Unrecognized collection type java.util.Map<java.lang.String, \
         com.amazonaws.dynamodb.v20120810.AttributeValue>"
    );
    assert_eq!(
        serialization("ListBackups", json!({"TimeRangeLowerBound": "2020-01-01"})),
        "STRING_VALUE cannot be converted to Date"
    );
}

#[test]
fn attribute_value_member_types() {
    let cases = [
        (
            json!({"S": 5}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"S": 5.5}),
            "DECIMAL_VALUE cannot be converted to String",
        ),
        (
            json!({"N": true}),
            "TRUE_VALUE cannot be converted to String",
        ),
        (
            json!({"S": []}),
            "Unrecognized collection type class java.lang.String",
        ),
        (
            json!({"S": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"BOOL": 1}),
            "NUMBER_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"NULL": "maybe"}),
            "Unexpected token received from parser",
        ),
        (
            json!({"B": 5}),
            "only base-64-encoded strings are convertible to bytes",
        ),
        (
            json!({"B": false}),
            "only base-64-encoded strings are convertible to bytes",
        ),
        (
            json!({"B": []}),
            "Unrecognized collection type class java.nio.ByteBuffer",
        ),
        (
            json!({"B": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"B": "YQ="}),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 3",
        ),
        (
            json!({"B": "YR=="}),
            "Invalid last non-pad Base64 character dectected",
        ),
        (
            json!({"B": "!!!!"}),
            "Invalid last non-pad Base64 character dectected",
        ),
        (
            json!({"BS": ["YQ==", "YQ"]}),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 2",
        ),
        (json!({"SS": "a"}), "Unexpected field type"),
        (
            json!({"NS": {}}),
            "Start of structure or map found where not expected",
        ),
        (
            json!({"NS": [1]}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (json!({"L": 5}), "Unexpected field type"),
        (json!({"L": ["x"]}), "Unexpected value type in payload"),
        (
            json!({"L": [[]]}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
        (
            json!({"M": []}),
            "Unrecognized collection type java.util.Map<java.lang.String, \
             com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
        (
            json!({"M": {"a": {"L": [{"M": {"b": {"S": 1}}}]}}}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        // In the service's member order: S, B, N, BOOL, NULL, BS, NS, SS, L, M.
        (
            json!({"N": 1, "S": true}),
            "TRUE_VALUE cannot be converted to String",
        ),
        (json!({"M": 1, "L": 1}), "Unexpected field type"),
        (
            json!({"BOOL": 1, "B": 1}),
            "only base-64-encoded strings are convertible to bytes",
        ),
    ];
    for (value, expected) in cases {
        let body = json!({"TableName": "abc", "Item": {"a": value}});
        assert_eq!(
            serialization("PutItem", body.clone()),
            expected,
            "body {body}"
        );
    }
    // Only the types: empty, multi-typed or malformed values are the model module's business.
    for value in [
        json!({}),
        json!({"S": "a", "N": "1"}),
        json!({"N": "x"}),
        json!({"NULL": false}),
        json!({"BOOL": "yes"}),
        json!({"B": "", "SS": []}),
        json!({"X": 5}),
    ] {
        let body = json!({"TableName": "abc", "Item": {"a": value}});
        assert_eq!(ddb("PutItem", body.clone()), Ok(()), "body {body}");
    }
    // AttributeValues as structure members (legacy parameters) are FieldStructs.
    assert_eq!(
        serialization(
            "UpdateItem",
            json!({"TableName": "abc", "Key": key(), "AttributeUpdates": {"a": {"Value": "x"}}})
        ),
        "Unexpected field type"
    );
}

#[test]
fn a_type_mismatch_wins_over_validation_errors() {
    // The deserializer fails before any constraint is checked, wherever the mismatch is.
    assert_eq!(
        serialization(
            "Query",
            json!({"Select": "X", "Limit": 0, "ExclusiveStartKey": {"id": 5}})
        ),
        "Unexpected value type in payload"
    );
    assert_eq!(
        serialization("DescribeTable", json!({"TableName": 5})),
        "NUMBER_VALUE cannot be converted to String"
    );
    // The first mismatch in the service's member order: Select before TableName in Query.
    assert_eq!(
        serialization("Query", json!({"TableName": 5, "Select": true})),
        "TRUE_VALUE cannot be converted to String"
    );
    // Depth first in order: an element's insides before the next element.
    assert_eq!(
        serialization(
            "BatchWriteItem",
            json!({"RequestItems": {"abc": [{"PutRequest": {"Item": {"a": {"S": 1}}}}, 5]}})
        ),
        "NUMBER_VALUE cannot be converted to String"
    );
}

#[test]
fn lenient_inputs_as_in_the_service() {
    // Unknown members are ignored, nulls are absent, fractions of integers are rounded down.
    assert_eq!(
        ddb("ListTables", json!({"Bogus": [1, 2], "Limit": null})),
        Ok(())
    );
    assert_eq!(ddb("ListTables", json!({"Limit": 1.5})), Ok(()));
    assert_eq!(ddb("ListTables", Value::Null), Ok(()));
    assert_eq!(ddb("ListTables", json!([])), Ok(()));
    assert_eq!(ddb("ListTables", json!("x")), Ok(()));
    assert_eq!(
        validation("DescribeTable", json!([1])),
        "The parameter 'TableName' is required but was not present in the request"
    );
    assert_eq!(
        validation("ListTables", json!({"Limit": 0.5})),
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member \
         must have value greater than or equal to 1"
    );
    assert_eq!(
        validation("Scan", json!({"TableName": "abc", "Segment": -0.5})),
        "1 validation error detected: Value '-1' at 'segment' failed to satisfy constraint: \
         Member must have value greater than or equal to 0"
    );
    assert_eq!(
        validation("ListTables", json!({"Limit": 101})),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member \
         must have value less than or equal to 100"
    );
    // No saturation at the Java type's bounds.
    assert_eq!(
        validation("ListTables", json!({"Limit": 1e12})),
        "1 validation error detected: Value '1000000000000' at 'limit' failed to satisfy \
         constraint: Member must have value less than or equal to 100"
    );
    // Booleans as strings.
    for s in ["true", "FALSE", "1", "0", "yes", "No"] {
        assert_eq!(
            ddb(
                "GetItem",
                json!({"TableName": "abc", "Key": key(), "ConsistentRead": s})
            ),
            Ok(()),
            "{s}"
        );
    }
    // Nulls inside items are left to the operation (the service reports them itself).
    assert_eq!(
        ddb(
            "PutItem",
            json!({"TableName": "abc", "Item": {"id": {"S": "1"}, "b": null}})
        ),
        Ok(())
    );
}

#[test]
fn normalize_makes_lenient_values_plain() {
    let mut body = json!({
        "TableName": "abc", "Limit": 2.7, "ConsistentRead": "YES", "ScanIndexForward": "0",
        "ExclusiveStartKey": {"a": {"BOOL": "no", "NULL": "true"}},
        "KeyConditions": {"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": "1"}]}},
        "Select": "COUNT", "Bogus": "yes",
    });
    assert_eq!(ddb("Query", body.clone()), Ok(()));
    normalize_request(Service::DynamoDb, "Query", &mut body);
    assert_eq!(
        body,
        json!({
            "TableName": "abc", "Limit": 2, "ConsistentRead": true, "ScanIndexForward": false,
            "ExclusiveStartKey": {"a": {"BOOL": false, "NULL": true}},
            "KeyConditions": {"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": true}]}},
            "Select": "COUNT", "Bogus": "yes",
        })
    );
    let mut body = json!({"Limit": -0.5});
    normalize_request(Service::DynamoDb, "ListTables", &mut body);
    assert_eq!(body, json!({"Limit": -1}));
    let mut body = json!({"Limit": 1e300, "X": 1.5});
    normalize_request(Service::DynamoDb, "ListTables", &mut body);
    assert_eq!(body, json!({"Limit": 1e300, "X": 1.5}));
    let mut body = json!([1.5]);
    normalize_request(Service::DynamoDb, "NoSuchOperation", &mut body);
    normalize_request(Service::DynamoDb, "ListTables", &mut body);
    assert_eq!(body, json!([1.5]));
}

#[test]
fn streams_operations() {
    let streams = |op: &str, body: Value| validate_request(Service::Streams, op, &body);
    let err = streams("GetShardIterator", json!({})).expect_err("invalid");
    assert_eq!(err.kind, ErrorKind::Validation);
    assert_eq!(
        err.message,
        "3 validation errors detected: Value null at 'streamArn' failed to satisfy constraint: \
         Member must not be null; Value null at 'shardId' failed to satisfy constraint: Member \
         must not be null; Value null at 'shardIteratorType' failed to satisfy constraint: Member \
         must not be null"
    );
    let err =
        streams("GetRecords", json!({"ShardIterator": "x", "Limit": 0})).expect_err("invalid");
    assert_eq!(
        err.message,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member \
         must have value greater than or equal to 1"
    );
    assert_eq!(streams("ListStreams", json!({"TableName": "abc"})), Ok(()));
    assert!(is_known_operation(Service::Streams, "DescribeStream"));
    assert!(!is_known_operation(Service::Streams, "GetItem"));
}

#[test]
fn operations_and_services() {
    assert!(is_known_operation(Service::DynamoDb, "GetItem"));
    assert!(is_known_operation(Service::DynamoDb, "TransactWriteItems"));
    assert!(!is_known_operation(Service::DynamoDb, "getitem"));
    assert!(!is_known_operation(Service::DynamoDb, "GetRecords"));
    let err = ddb("NoSuchOperation", json!({})).expect_err("unknown");
    assert_eq!(err.kind, ErrorKind::UnknownOperation);
    let names = operation_names(Service::DynamoDb);
    assert!(names.contains(&"BatchExecuteStatement") && names.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        operation_names(Service::Streams),
        [
            "DescribeStream",
            "GetRecords",
            "GetShardIterator",
            "ListStreams"
        ]
    );
    for s in [Service::DynamoDb, Service::Streams] {
        assert_eq!(Service::from_target_prefix(s.target_prefix()), Some(s));
    }
    assert_eq!(Service::from_target_prefix("DynamoDB"), None);
}

/// Every operation, every member, a spread of wrong and edge values: never a panic, always one of
/// the two error kinds or success.
#[test]
fn no_panics_on_odd_input() {
    let odd = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!("arn:"),
        json!("\u{0}\u{FFFF}é"),
        json!([]),
        json!([null, 1, "x", {}, []]),
        json!({}),
        json!({"": null, "a": {"S": "x"}, "b": [{}], "c": "="}),
    ];
    for service in [Service::DynamoDb, Service::Streams] {
        let model = service_model(service).expect("models load");
        for op in operation_names(service) {
            let Some(input) = model.operations.get(op).and_then(|o| o.input) else {
                continue;
            };
            let shapes::Kind::Structure { members, .. } = &model.shapes[input].kind else {
                continue;
            };
            for m in members {
                for v in &odd {
                    for nest in [v.clone(), json!([v]), json!({"k": v}), json!([{"k": v}])] {
                        let body = json!({ m.name.clone(): nest });
                        match validate_request(service, op, &body) {
                            Ok(()) => {}
                            Err(e) => assert!(
                                matches!(e.kind, ErrorKind::Validation | ErrorKind::Serialization),
                                "{op} {body}: {e:?}"
                            ),
                        }
                    }
                }
            }
        }
    }
}
