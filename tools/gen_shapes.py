#!/usr/bin/env python3
"""Reduce botocore's DynamoDB and DynamoDB Streams API models to what request-shape validation needs.

Writes src/validate/shapes.json (committed; embedded by src/validate with include_str!). Run it again
after upgrading botocore, then review the diff:

    python3 tools/gen_shapes.py            # writes src/validate/shapes.json beside this repo's src/
    python3 tools/gen_shapes.py --check    # exits 1 if the committed file is out of date

What is kept, per service (keyed by its X-Amz-Target prefix):
  - operations: name -> input shape (absent for operations without input), and `table_name_check`
    for operations whose input has a required top-level `TableName` (DynamoDB checks that one before
    the model constraints, with messages of its own: see src/validate/NOTES.md);
  - shapes: every shape reachable from an operation's input, reduced to type, members (in model
    order, with `required`), list member, map key/value, min, max, pattern, enum.

Deliberate departures from the model, all documented in src/validate/NOTES.md:
  - `AttributeValue` becomes type `opaque`: its contents are the model module's business; only its
    JSON type (an object) is checked here.
  - Members named `TableName` whose shape is `TableArn`, and map keys of shape `TableArn`, get the
    synthetic shape `TableNameOrArn`: a value starting with `arn:` is held to `TableArn`'s limits,
    any other value to the `TableName` shape's (3..255, [a-zA-Z0-9_.-]+), which is what the service
    enforced before table ARNs were accepted there and still enforces for plain names.
  - A few enums are listed in the order the service prints them in its messages (ENUM_ORDER below).
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
    "ComparisonOperator": [
        "IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT",
        "NOT_NULL", "NE", "LE", "BEGINS_WITH", "GE", "CONTAINS",
    ],
    "ReturnValue": ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"],
    "Select": ["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
}

TABLE_NAME_OR_ARN = "TableNameOrArn"
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

    def ref(name, table_name_position):
        """The shape name to use for a reference to `name` (a member or a map key)."""
        nonlocal needs_table_name_or_arn
        if table_name_position and name == "TableArn":
            needs_table_name_or_arn = True
            return TABLE_NAME_OR_ARN
        visit(name)
        return name

    def visit(name):
        if name in out:
            return
        src = shapes[name]
        typ = src["type"]
        if typ not in KNOWN_TYPES:
            sys.exit(f"gen_shapes: shape {name} has unknown type {typ}")
        if name == "AttributeValue":
            out[name] = {"type": "opaque"}
            return
        shape = {"type": typ}
        out[name] = shape  # before recursing: shapes can be recursive
        for k in ("min", "max", "pattern"):
            if k in src:
                shape[k] = src[k]
        if "enum" in src:
            order = ENUM_ORDER.get(name)
            if order is not None and sorted(order) != sorted(src["enum"]):
                sys.exit(f"gen_shapes: ENUM_ORDER[{name}] no longer matches the model's values")
            shape["enum"] = order or src["enum"]
        if typ == "structure":
            required = set(src.get("required", []))
            members = []
            for mname, m in src["members"].items():
                entry = {"name": mname, "shape": ref(m["shape"], mname == "TableName")}
                if mname in required:
                    entry["required"] = True
                members.append(entry)
            shape["members"] = members
        elif typ == "list":
            shape["member"] = ref(src["member"]["shape"], False)
        elif typ == "map":
            shape["key"] = ref(src["key"]["shape"], True)
            shape["value"] = ref(src["value"]["shape"], False)

    operations = {}
    for op_name, op in model["operations"].items():
        entry = {}
        if "input" in op:
            inp = op["input"]["shape"]
            visit(inp)
            entry["input"] = inp
            src = shapes[inp]
            if "TableName" in src.get("required", []) and "TableName" in src["members"]:
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
