#!/usr/bin/env python3
"""Reduce botocore's DynamoDB and DynamoDB Streams API models to what request-shape validation needs.

Writes src/validate/shapes.json (committed; embedded by src/validate with include_str!). Run it again
after upgrading botocore, then review the diff:

    python3 tools/gen_shapes.py            # writes src/validate/shapes.json beside this repo's src/
    python3 tools/gen_shapes.py --check    # exits 1 if the committed file is out of date

What is kept, per service (keyed by its X-Amz-Target prefix):
  - operations: name -> input shape (absent for operations without input), and `table_name_check`
    for the table-level operations whose input has a required top-level `TableName` (DynamoDB
    checks that one before the model constraints, with messages of its own; the item operations
    GetItem, PutItem, ... validate it as an ordinary member: see src/validate/NOTES.md);
  - shapes: every shape reachable from an operation's input, reduced to type, members (with
    `required`), list member, map key/value, min, max, pattern, enum.

Deliberate departures from the model, all documented in src/validate/NOTES.md. Most follow
dynalite (github.com/architect/dynalite, validations/*.js), whose validation rules and messages
were recorded against the live service:
  - Structure members are listed in the order the service checks them (MEMBER_ORDER below, from
    dynalite's per-operation type tables); members dynalite does not know follow in model order.
  - A few enums are listed in the order the service prints them in its messages (ENUM_ORDER).
  - `AttributeValue` is marked `attribute_value`: its members' JSON types are checked (S, B, N,
    BOOL, NULL, BS, NS, SS, L, M, as dynalite does), nothing else; its contents are the model
    module's business.
  - Members named `TableName` whose shape is `TableArn`, and map keys of shape `TableArn`, get the
    synthetic shape `TableNameOrArn`: a value starting with `arn:` is held to `TableArn`'s limits,
    any other value to the `TableName` shape's (3..255, [a-zA-Z0-9_.-]+), which is what the service
    enforced before table ARNs were accepted there and still enforces for plain names. For the
    operations with `table_name_check` the top-level member gets `TableNameOrArnPrechecked`
    instead: the same without the 3..255 length (the check before the model reports that).
  - EXTRA_LIMITS: limits dynalite recorded from the service that the model lacks.
"""

import argparse
import gzip
import json
import os
import sys

import botocore

SERVICES = [
    # (botocore service folder, namespace used when a structure value is printed in a message)
    ("dynamodb", "com.amazonaws.dynamodb.v20120810"),
    ("dynamodbstreams", "com.amazonaws.dynamodb.streams.v20120810"),
]

# The order in which the service lists these enums in "Member must satisfy enum value set: [...]",
# where it differs from the model's order (recorded answers of the live service; see NOTES.md).
ENUM_ORDER = {
    "ScalarAttributeType": ["B", "N", "S"],
    "ProjectionType": ["ALL", "INCLUDE", "KEYS_ONLY"],
    "ConditionalOperator": ["OR", "AND"],
    "ComparisonOperator": [
        "IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT",
        "NOT_NULL", "NE", "LE", "BEGINS_WITH", "GE", "CONTAINS",
    ],
    "ReturnValue": ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"],
    "Select": ["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
}

# The order in which the service checks (and so reports) the members of these structures, where it
# differs from the model's: dynalite's type tables, which follow the service's recorded multi-error
# messages. Members not listed here follow the listed ones, in model order.
MEMBER_ORDER = {
    "AttributeValue": ["S", "B", "N", "BOOL", "NULL", "BS", "NS", "SS", "L", "M"],
    "AttributeValueUpdate": ["Action", "Value"],
    "BatchGetItemInput": ["ReturnConsumedCapacity", "RequestItems"],
    "BatchWriteItemInput": ["ReturnConsumedCapacity", "ReturnItemCollectionMetrics", "RequestItems"],
    "CreateGlobalSecondaryIndexAction": ["Projection", "IndexName", "ProvisionedThroughput",
                                         "KeySchema"],
    "CreateTableInput": ["AttributeDefinitions", "TableName", "BillingMode", "ProvisionedThroughput",
                         "KeySchema", "LocalSecondaryIndexes", "GlobalSecondaryIndexes"],
    "DeleteItemInput": ["ReturnConsumedCapacity", "TableName", "ReturnValues",
                        "ReturnItemCollectionMetrics", "Key", "ConditionalOperator", "Expected",
                        "ConditionExpression", "ExpressionAttributeValues",
                        "ExpressionAttributeNames"],
    "ExpectedAttributeValue": ["AttributeValueList", "ComparisonOperator", "Exists", "Value"],
    "GetItemInput": ["ReturnConsumedCapacity", "AttributesToGet", "TableName", "Key",
                     "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"],
    "ListTablesInput": ["Limit", "ExclusiveStartTableName"],
    "ProvisionedThroughput": ["WriteCapacityUnits", "ReadCapacityUnits"],
    "PutItemInput": ["ReturnConsumedCapacity", "TableName", "Item", "ConditionalOperator",
                     "Expected", "ReturnValues", "ReturnItemCollectionMetrics",
                     "ConditionExpression", "ExpressionAttributeValues",
                     "ExpressionAttributeNames"],
    "QueryInput": ["Select", "IndexName", "ReturnConsumedCapacity", "QueryFilter", "TableName",
                   "ConditionalOperator", "AttributesToGet", "Limit", "KeyConditions",
                   "ExclusiveStartKey", "ConsistentRead", "ScanIndexForward",
                   "KeyConditionExpression", "FilterExpression", "ProjectionExpression",
                   "ExpressionAttributeValues", "ExpressionAttributeNames"],
    "ScanInput": ["Select", "IndexName", "TotalSegments", "ReturnConsumedCapacity", "TableName",
                  "ConditionalOperator", "ScanFilter", "Segment", "Limit", "AttributesToGet",
                  "ExclusiveStartKey", "FilterExpression", "ProjectionExpression",
                  "ExpressionAttributeValues", "ExpressionAttributeNames"],
    "UpdateItemInput": ["ReturnConsumedCapacity", "TableName", "ReturnItemCollectionMetrics",
                        "ReturnValues", "Key", "ConditionalOperator", "Expected",
                        "AttributeUpdates", "ConditionExpression", "UpdateExpression",
                        "ExpressionAttributeValues", "ExpressionAttributeNames"],
    "UpdateTableInput": ["TableName", "ProvisionedThroughput", "BillingMode",
                         "GlobalSecondaryIndexUpdates"],
    "WriteRequest": ["DeleteRequest", "PutRequest"],
}

# Limits the service enforces (dynalite recorded them) that the model does not state.
EXTRA_LIMITS = {
    "AttributeNameList": {"max": 255},
}

# Operations whose required top-level TableName the service validates as an ordinary member (in
# the aggregate message) rather than with the check before the model (dynalite: the item
# operations have notNull/regex/length on TableName, the table operations required/tableName).
ITEM_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}

TABLE_NAME_OR_ARN = "TableNameOrArn"
PRECHECKED = "Prechecked"
KNOWN_TYPES = {"structure", "list", "map", "string", "integer", "long", "double", "float",
               "boolean", "timestamp", "blob"}


def load(service):
    base = os.path.join(os.path.dirname(botocore.__file__), "data", service)
    versions = sorted(os.listdir(base))
    path = os.path.join(base, "2012-08-10" if "2012-08-10" in versions else versions[-1],
                        "service-2.json.gz")
    with gzip.open(path) as f:
        return json.load(f)


def reduce_service(model, namespace):
    shapes = model["shapes"]
    out = {}
    needs_table_name_or_arn = False

    prechecked = set()

    def ref(name, table_name_position, precheck=False):
        """The shape name to use for a reference to `name` (a member or a map key)."""
        nonlocal needs_table_name_or_arn
        if table_name_position and name == "TableArn":
            needs_table_name_or_arn = True
            name = TABLE_NAME_OR_ARN
        else:
            visit(name)
        if precheck:
            prechecked.add(name)
            return name + PRECHECKED
        return name

    def visit(name):
        if name in out:
            return
        src = shapes[name]
        typ = src["type"]
        if typ not in KNOWN_TYPES:
            sys.exit(f"gen_shapes: shape {name} has unknown type {typ}")
        shape = {"type": typ}
        out[name] = shape  # before recursing: shapes can be recursive
        if name == "AttributeValue":
            shape["attribute_value"] = True
        for k in ("min", "max", "pattern"):
            if k in src:
                shape[k] = src[k]
        for k, v in EXTRA_LIMITS.get(name, {}).items():
            if k in src:
                sys.exit(f"gen_shapes: the model now has {name}.{k}; drop it from EXTRA_LIMITS")
            shape[k] = v
        if "enum" in src:
            order = ENUM_ORDER.get(name)
            if order is not None and sorted(order) != sorted(src["enum"]):
                sys.exit(f"gen_shapes: ENUM_ORDER[{name}] no longer matches the model's values")
            shape["enum"] = order or src["enum"]
        if typ == "structure":
            required = set(src.get("required", []))
            first = MEMBER_ORDER.get(name, [])
            unknown = [m for m in first if m not in src["members"]]
            if unknown:
                sys.exit(f"gen_shapes: MEMBER_ORDER[{name}] names {unknown}, not in the model")
            order = first + [m for m in src["members"] if m not in first]
            members = []
            for mname in order:
                m = src["members"][mname]
                precheck = (name, mname) in precheck_members
                entry = {"name": mname, "shape": ref(m["shape"], mname == "TableName", precheck)}
                if mname in required:
                    entry["required"] = True
                members.append(entry)
            shape["members"] = members
        elif typ == "list":
            shape["member"] = ref(src["member"]["shape"], False)
        elif typ == "map":
            shape["key"] = ref(src["key"]["shape"], True)
            shape["value"] = ref(src["value"]["shape"], False)

    # Which operations get the TableName check before the model: decided before visiting, since
    # their input's TableName member gets a shape of its own.
    precheck_members = set()
    checked_ops = set()
    for op_name, op in model["operations"].items():
        if "input" not in op or op_name in ITEM_OPERATIONS:
            continue
        src = shapes[op["input"]["shape"]]
        if "TableName" in src.get("required", []) and "TableName" in src["members"]:
            precheck_members.add((op["input"]["shape"], "TableName"))
            checked_ops.add(op_name)

    operations = {}
    for op_name, op in model["operations"].items():
        entry = {}
        if "input" in op:
            inp = op["input"]["shape"]
            visit(inp)
            entry["input"] = inp
            if op_name in checked_ops:
                entry["table_name_check"] = True
        operations[op_name] = entry

    if needs_table_name_or_arn:
        name_shape, arn_shape = shapes["TableName"], shapes["TableArn"]
        out[TABLE_NAME_OR_ARN] = {
            "type": "string",
            "min": name_shape["min"],
            "max": name_shape["max"],
            "pattern": name_shape["pattern"],
            "arn": {k: arn_shape[k] for k in ("min", "max", "pattern") if k in arn_shape},
        }
    for name in prechecked:
        # The length was checked before the model, with the service's own message.
        shape = {k: v for k, v in out[name].items() if k not in ("min", "max")}
        if shape["type"] != "string":
            sys.exit(f"gen_shapes: TableName of shape {name} is not a string")
        out[name + PRECHECKED] = shape

    return {
        "namespace": namespace,
        "operations": dict(sorted(operations.items())),
        "shapes": dict(sorted(out.items())),
    }


def generate():
    result = {"botocore": botocore.__version__}
    for service, namespace in SERVICES:
        model = load(service)
        result[model["metadata"]["targetPrefix"]] = reduce_service(model, namespace)
    return json.dumps(result, indent=1, ensure_ascii=True) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file differs")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "src", "validate", "shapes.json"))
    args = parser.parse_args()
    text = generate()
    if args.check:
        try:
            with open(args.out) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"gen_shapes: {args.out} is out of date; run tools/gen_shapes.py", file=sys.stderr)
            sys.exit(1)
        return
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
