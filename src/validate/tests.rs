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
fn top_level_table_name_is_checked_first_and_alone() {
    let required = "The parameter 'TableName' is required but was not present in the request";
    let length = "TableName must be at least 3 characters long and at most 255 characters long";
    assert_eq!(validation("GetItem", json!({})), required);
    assert_eq!(
        validation("GetItem", json!({"TableName": null, "Key": key()})),
        required
    );
    assert_eq!(validation("DescribeTable", json!({})), required);
    assert_eq!(
        validation("CreateTable", json!({"KeySchema": []})),
        required
    );
    assert_eq!(
        validation("GetItem", json!({"TableName": "ab", "Key": key()})),
        length
    );
    assert_eq!(
        validation(
            "GetItem",
            json!({"TableName": "", "ReturnConsumedCapacity": "X"})
        ),
        length
    );
    assert_eq!(
        validation(
            "PutItem",
            json!({"TableName": "a".repeat(256), "Item": key()})
        ),
        length
    );
    assert_eq!(
        ddb(
            "PutItem",
            json!({"TableName": "a".repeat(255), "Item": key()})
        ),
        Ok(())
    );
}

#[test]
fn short_and_long_table_names_elsewhere() {
    assert_eq!(
        validation("ListTables", json!({"ExclusiveStartTableName": "ab"})),
        "1 validation error detected: Value 'ab' at 'exclusiveStartTableName' failed to satisfy \
         constraint: Member must have length greater than or equal to 3"
    );
    let long = "t".repeat(256);
    assert_eq!(
        validation("ListTables", json!({"ExclusiveStartTableName": long})),
        format!(
            "1 validation error detected: Value '{long}' at 'exclusiveStartTableName' failed to \
             satisfy constraint: Member must have length less than or equal to 255"
        )
    );
    assert_eq!(
        validation(
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "ab", "Key": key()}}]})
        ),
        "1 validation error detected: Value 'ab' at 'transactItems.1.member.get.tableName' failed \
         to satisfy constraint: Member must have length greater than or equal to 3"
    );
}

#[test]
fn table_arns_are_held_to_arn_limits() {
    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/abc";
    assert_eq!(
        ddb("GetItem", json!({"TableName": arn, "Key": key()})),
        Ok(())
    );
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
}

#[test]
fn bad_pattern() {
    assert_eq!(
        validation("GetItem", json!({"TableName": "abc;", "Key": key()})),
        "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    // Pattern first, then length, for one member.
    assert_eq!(
        validation("ListTables", json!({"ExclusiveStartTableName": "a;"})),
        "2 validation errors detected: Value 'a;' at 'exclusiveStartTableName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a;' \
         at 'exclusiveStartTableName' failed to satisfy constraint: Member must have length \
         greater than or equal to 3"
    );
}

#[test]
fn bad_enum() {
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
}

#[test]
fn missing_required_member() {
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
}

#[test]
fn two_errors_at_once_in_model_order() {
    assert_eq!(
        validation("Query", json!({"TableName": "abc", "Limit": 0, "Select": "ALL"})),
        "2 validation errors detected: Value 'ALL' at 'select' failed to satisfy constraint: Member \
         must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, \
         ALL_PROJECTED_ATTRIBUTES]; Value '0' at 'limit' failed to satisfy constraint: Member must \
         have value greater than or equal to 1"
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
}

#[test]
fn list_too_long_or_too_short() {
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
}

#[test]
fn map_value_and_key_constraints_use_the_bracketed_form() {
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
    assert_eq!(
        validation("BatchGetItem", json!({"RequestItems": {}})),
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
}

#[test]
fn list_element_constraints_use_the_bracketed_form() {
    let body = create_table(json!({"GlobalSecondaryIndexes": [{
        "IndexName": "gsi",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", ""]},
    }]}));
    assert_eq!(
        validation("CreateTable", body),
        "1 validation error detected: Value '[a, ]' at \
         'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy \
         constraint: Member must satisfy constraint: [Member must have length less than or equal \
         to 255, Member must have length greater than or equal to 1]"
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
        "2 validation errors detected: Value null at 'requestItems.abc.member.keys' failed to \
         satisfy constraint: Member must not be null; Value 'X' at 'returnConsumedCapacity' failed \
         to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
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
}

#[test]
fn type_mismatches_are_serialization_exceptions() {
    let cases = [
        (
            json!({"TableName": 123}),
            "class java.lang.Double can not be converted to an String",
        ),
        (
            json!({"TableName": 1.5}),
            "class java.lang.Double can not be converted to an String",
        ),
        (
            json!({"TableName": true}),
            "class java.lang.Boolean can not be converted to an String",
        ),
        (
            json!({"TableName": {}}),
            "Start of structure or map found where not expected.",
        ),
        (
            json!({"TableName": []}),
            "Start of list found where not expected",
        ),
        (
            json!({"TableName": "abc", "Key": "x"}),
            "Expected map or null",
        ),
        (
            json!({"TableName": "abc", "Key": []}),
            "Start of list found where not expected",
        ),
        (
            json!({"TableName": "abc", "Key": {"id": "x"}}),
            "Expected null",
        ),
        (
            json!({"TableName": "abc", "Key": {"id": [1]}}),
            "Start of list found where not expected",
        ),
        (
            json!({"TableName": "abc", "Key": key(), "ConsistentRead": "yes"}),
            "'YES' can not be converted to an Boolean",
        ),
        (
            json!({"TableName": "abc", "Key": key(), "ConsistentRead": 1}),
            "class java.lang.Double can not be converted to an Boolean",
        ),
        (
            json!({"TableName": "abc", "Key": key(), "AttributesToGet": "a"}),
            "Expected list or null",
        ),
        (
            json!({"TableName": "abc", "Key": key(), "AttributesToGet": {}}),
            "Start of structure or map found where not expected.",
        ),
        (
            json!({"TableName": "abc", "Key": key(), "AttributesToGet": [1]}),
            "class java.lang.Double can not be converted to an String",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            serialization("GetItem", body.clone()),
            expected,
            "body {body}"
        );
    }
    assert_eq!(
        serialization("Scan", json!({"TableName": "abc", "Limit": "5"})),
        "class java.lang.String can not be converted to an Integer"
    );
    assert_eq!(
        serialization("Scan", json!({"TableName": "abc", "Limit": false})),
        "class java.lang.Boolean can not be converted to an Integer"
    );
    assert_eq!(
        serialization(
            "CreateTable",
            create_table(json!({"ProvisionedThroughput": 5}))
        ),
        "Expected null"
    );
    assert_eq!(
        serialization(
            "CreateTable",
            create_table(json!({"OnDemandThroughput": {"MaxReadRequestUnits": "1"}}))
        ),
        "class java.lang.String can not be converted to an Long"
    );
    assert_eq!(
        serialization("ListBackups", json!({"TimeRangeLowerBound": "2020-01-01"})),
        "class java.lang.String can not be converted to an Date"
    );
    assert_eq!(
        serialization("ListTables", json!([])),
        "Start of list found where not expected"
    );
    assert_eq!(serialization("ListTables", json!("x")), "Expected null");
}

#[test]
fn a_type_mismatch_wins_over_validation_errors() {
    // The deserializer fails before any constraint is checked, wherever the mismatch is.
    assert_eq!(
        serialization(
            "Query",
            json!({"Select": "X", "Limit": 0, "ExclusiveStartKey": {"id": 5}})
        ),
        "Expected null"
    );
}

#[test]
fn lenient_inputs_as_in_the_service() {
    // Unknown members are ignored, nulls are absent, fractions of integers are truncated.
    assert_eq!(
        ddb("ListTables", json!({"Bogus": [1, 2], "Limit": null})),
        Ok(())
    );
    assert_eq!(ddb("ListTables", json!({"Limit": 1.5})), Ok(()));
    assert_eq!(ddb("ListTables", Value::Null), Ok(()));
    assert_eq!(
        validation("ListTables", json!({"Limit": 0.5})),
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member \
         must have value greater than or equal to 1"
    );
    assert_eq!(
        validation("ListTables", json!({"Limit": 101})),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member \
         must have value less than or equal to 100"
    );
    // Nulls inside collections are left to the operation (the service reports them itself).
    assert_eq!(
        ddb(
            "PutItem",
            json!({"TableName": "abc", "Item": {"id": {"S": "1"}, "b": null}})
        ),
        Ok(())
    );
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
            let shapes::Kind::Structure { members } = &model.shapes[input].kind else {
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
