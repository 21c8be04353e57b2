//! The benchmark's data set and requests.
//!
//! Items live in partitions of [`PER_PARTITION`]: item `i` has partition key `user#{i / 10}` and
//! sort key `item#{i % 10}`, so a Query of one partition returns 10 items. Each item is about
//! 1 KB: the two keys, a number `n`, and a nested map (`profile`) with strings, a number, a list
//! and a map inside.
//!
//! Request bodies are built once, before the clock starts, so the load generator only picks one
//! and sends it.

use bytes::Bytes;
use serde_json::{json, Value};

/// The DynamoDB table the benchmark creates.
pub const TABLE: &str = "bench";
/// Items per partition key: the size of one Query's page.
pub const PER_PARTITION: u64 = 10;
/// At most this many distinct pre-built bodies per operation; larger data sets are sampled
/// evenly, so the bodies still cover the whole key range.
const MAX_BODIES: u64 = 131_072;

/// Filler text for the nested map, sized so that an item is about 1 KB (DynamoDB's size rules).
/// It must not contain `:` followed by a letter, which pgbench would take for a variable.
const BIO: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
    incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
    ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit \
    in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat \
    non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Sed ut perspiciatis \
    unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, \
    eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. \
    Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugit, sed quia consequuntur \
    magni dolores eos qui ratione voluptatem sequi nesciunt.";

/// The partition key of item `i`.
pub fn pk(i: u64) -> String {
    format!("user#{}", i / PER_PARTITION)
}

/// The sort key of item `i`.
pub fn sk(i: u64) -> String {
    format!("item#{}", i % PER_PARTITION)
}

/// An item in DynamoDB JSON, from the text of its keys and of its number `n`. Taking text lets
/// [`pgbench_item_sql`] build the same document with pgbench variables in it.
fn item_with(pk: &str, sk: &str, n: &str) -> Value {
    json!({
        "pk": {"S": pk},
        "sk": {"S": sk},
        "n": {"N": n},
        "profile": {"M": {
            "name": {"S": "Ada Lovelace"},
            "email": {"S": "ada@example.com"},
            "age": {"N": "36"},
            "tags": {"L": [{"S": "analytical"}, {"S": "engine"}, {"S": "poetry"}, {"S": "science"}]},
            "address": {"M": {
                "street": {"S": "12 St James Square"},
                "city": {"S": "London"},
                "zip": {"N": "10001"}
            }},
            "bio": {"S": BIO}
        }}
    })
}

/// Item `i` with number `n`.
pub fn item(i: u64, n: u64) -> Value {
    item_with(&pk(i), &sk(i), &n.to_string())
}

/// The key of item `i`.
fn key(i: u64) -> Value {
    json!({"pk": {"S": pk(i)}, "sk": {"S": sk(i)}})
}

/// CreateTable for the benchmark's table.
pub fn create_table() -> Value {
    json!({
        "TableName": TABLE,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "BillingMode": "PAY_PER_REQUEST"
    })
}

/// BatchWriteItem putting items `range`.
pub fn batch_write(range: std::ops::Range<u64>) -> Value {
    let requests: Vec<Value> = range
        .map(|i| json!({"PutRequest": {"Item": item(i, i)}}))
        .collect();
    json!({"RequestItems": {TABLE: requests}})
}

/// PutItem of item `i` with number `n`.
pub fn put(i: u64, n: u64) -> Value {
    json!({"TableName": TABLE, "Item": item(i, n)})
}

/// GetItem of item `i`.
pub fn get(i: u64) -> Value {
    json!({"TableName": TABLE, "Key": key(i)})
}

/// UpdateItem incrementing `n` of item `i`, on the condition that the item exists.
pub fn update(i: u64) -> Value {
    json!({
        "TableName": TABLE,
        "Key": key(i),
        "UpdateExpression": "SET n = n + :one",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":one": {"N": "1"}}
    })
}

/// Query of the partition that holds item `i`: its 10 items.
pub fn query(i: u64) -> Value {
    json!({
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk(i)}},
        "Limit": PER_PARTITION
    })
}

/// Serialized bodies of `build(i)` for items spread evenly over `0..items` (all of them when
/// there are at most [`MAX_BODIES`]).
pub fn bodies(items: u64, build: impl Fn(u64) -> Value) -> Vec<Bytes> {
    let count = items.min(MAX_BODIES);
    (0..count)
        .map(|k| {
            let i = k * items / count;
            Bytes::from(serde_json::to_vec(&build(i)).expect("serialize a request"))
        })
        .collect()
}

/// The item document as a pgbench SQL expression of type `jsonb`, built from the variables
/// `:p` (partition), `:s` (sort key number) and `:i` (item number, used as `n`). It is the same
/// ~1 KB text that a PutItem stores, and PostgreSQL parses it as jsonb on every execution, as it
/// does dynamo-pg's parameter.
pub fn pgbench_item_sql() -> String {
    let text = serde_json::to_string(&item_with("@P@", "@S@", "@N@")).expect("serialize");
    assert!(
        !text.contains('\''),
        "the item text must not need SQL quoting"
    );
    let text = text
        .replace("@P@", "user#' || :p || '")
        .replace("@S@", "item#' || :s || '")
        .replace("@N@", "' || :i || '");
    format!("('{text}')::jsonb")
}
