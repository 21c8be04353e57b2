#!/usr/bin/env python3
"""Record DynamoDB conformance cases from DynamoDB Local, or check a server against them.

A conformance case is a JSON file under tests/conformance/cases/<area>/<name>.json holding a
sequence of requests and the answers DynamoDB gives (the format is described in
tests/conformance/README.md). This tool fills in the answers from a running DynamoDB Local, or
compares a running server (dynamo-pg, or DynamoDB Local itself) against the recorded answers.

Usage:
    python3 tools/record_conformance.py [--endpoint URL] [FILE_OR_DIR ...]   re-record in place
    python3 tools/record_conformance.py --check URL [FILE_OR_DIR ...]        compare, write nothing

Without paths, every case under tests/conformance/cases is used. Start DynamoDB Local first,
e.g. `../shared/tools/dynamodb-local start 8014`. Python standard library only.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

DEFAULT_ENDPOINT = "http://127.0.0.1:8014"
CASES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", "tests", "conformance", "cases"))
TARGET_PREFIX = "DynamoDB_20120810."
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, "
                 "SignedHeaders=host, Signature=abc")

# Wildcard markers: ANY accepts any value that is present, OPTIONAL also accepts absence.
ANY = "<any>"
OPTIONAL = "<optional>"

# Response members whose values depend on time, region, account or identity.
VOLATILE_KEYS = {
    "CreationDateTime", "LastUpdateToPayPerRequestDateTime", "LastIncreaseDateTime",
    "LastDecreaseDateTime", "TableArn", "TableId", "IndexArn", "LatestStreamArn",
    "LatestStreamLabel", "StreamArn", "ApproximateCreationDateTime", "RequestId",
}
# Time members that DynamoDB Local reports as the epoch (0) where the service leaves them out.
EPOCH_WHEN_UNSET = {"LastIncreaseDateTime", "LastDecreaseDateTime"}
# Arrays whose element order DynamoDB does not define; they are compared as multisets.
UNORDERED_KEYS = {"SS", "NS", "BS", "AttributeDefinitions", "GlobalSecondaryIndexes",
                  "LocalSecondaryIndexes", "NonKeyAttributes"}

# Operations whose answer describes the table in a transitional state in the service (AWS API
# reference examples: CreateTable CREATING, UpdateTable of capacity UPDATING, DeleteTable
# DELETING), with the test of the request that selects the rule. DynamoDB Local says ACTIVE.
STATUS_RULES = {
    "CreateTable": ("CREATING", lambda request: True),
    "UpdateTable": ("UPDATING", lambda request: any(
        k in request for k in ("BillingMode", "ProvisionedThroughput",
                               "GlobalSecondaryIndexUpdates", "StreamSpecification"))),
    "DeleteTable": ("DELETING", lambda request: True),
}

LOCAL_MISSING_TABLE = "Cannot do operations on a non-existent table"
LOCAL_TABLE_EXISTS = "Cannot create preexisting table"
TABLE_OPS = {"DescribeTable", "DeleteTable", "UpdateTable"}


# ---------------------------------------------------------------------------------------------
# Case files


def case_files(paths):
    """Return the sorted list of case files named by `paths` (files, or directories to walk)."""
    found = []
    for path in paths or [CASES_DIR]:
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                found.extend(os.path.join(root, f) for f in files if f.endswith(".json"))
        else:
            found.append(path)
    return sorted(os.path.normpath(p) for p in found)


def load_case(path):
    """Read one case file and check the parts of its shape that the tools rely on."""
    with open(path, encoding="utf-8") as f:
        case = json.load(f)
    if not isinstance(case.get("steps"), list) or not case["steps"]:
        raise ValueError(f"{path}: a case needs a non-empty 'steps' list")
    if not case.get("description"):
        raise ValueError(f"{path}: a case needs a 'description'")
    for i, step in enumerate(case["steps"], 1):
        if "op" not in step:
            raise ValueError(f"{path}: step {i} has no 'op'")
        if step.get("source") == "service" and not step.get("note"):
            raise ValueError(f"{path}: step {i} is marked source=service without a 'note'")
        if "request" not in step and "raw_body" not in step:
            raise ValueError(f"{path}: step {i} has neither 'request' nor 'raw_body'")
        unordered = step.get("unordered", [])
        if not isinstance(unordered, list) or not all(isinstance(k, str) for k in unordered):
            raise ValueError(f"{path}: step {i}: 'unordered' must be a list of member names")
    return case


def save_case(path, case):
    """Write a case back with a stable member order, two-space indent and a final newline."""
    order = ["description", "pending", "steps"]
    out = {k: case[k] for k in order if k in case}
    out.update({k: v for k, v in case.items() if k not in out})
    out["steps"] = [ordered_step(s) for s in case["steps"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")


def ordered_step(step):
    """Return the step with its members in the documented order (for readable diffs)."""
    order = ["op", "target", "request", "raw_body", "status", "response", "unordered", "source",
             "note", "adjusted", "cleanup"]
    out = {k: step[k] for k in order if k in step}
    out.update({k: v for k, v in step.items() if k not in out})
    return out


# ---------------------------------------------------------------------------------------------
# HTTP


def send(endpoint, step):
    """POST one step to `endpoint`; return (status, body) with body parsed as JSON when it is."""
    if "raw_body" in step:
        data = step["raw_body"].encode("utf-8")
    else:
        data = json.dumps(step["request"], ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "20260101T000000Z",
               "Authorization": AUTHORIZATION}
    target = step.get("target", TARGET_PREFIX + step["op"])
    if target is not None:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(endpoint, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def preclean(endpoint, case):
    """Drop leftovers of an earlier run: every table the case creates is unprotected and deleted."""
    for name in created_table_names(case):
        unprotect = {"TableName": name, "DeletionProtectionEnabled": False}
        send(endpoint, {"op": "UpdateTable", "request": unprotect})
        send(endpoint, {"op": "DeleteTable", "request": {"TableName": name}})


def created_table_names(case):
    """Names of the tables that the case's CreateTable steps create (in first-seen order)."""
    names = []
    for step in case["steps"]:
        name = (step.get("request") or {}).get("TableName")
        if step["op"] == "CreateTable" and isinstance(name, str) and name not in names:
            names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# Normalization of recorded answers


def normalize_body(body, top=True):
    """Replace volatile values by wildcards and spell the error message member `message`.

    Only the error's own member is renamed: a nested `Message` (a CancellationReason's) is a
    member of its shape and keeps its spelling."""
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            if top and key == "Message" and "message" not in body:
                key = "message"
            if key in VOLATILE_KEYS and not isinstance(value, (dict, list)):
                out[key] = OPTIONAL if key in EPOCH_WHEN_UNSET and value == 0 else ANY
            else:
                out[key] = normalize_body(value, top=False)
        return out
    if isinstance(body, list):
        return [normalize_body(v, top=False) for v in body]
    return body


def error_type(body):
    """The short error name of an error body (`ValidationException`), or None."""
    if isinstance(body, dict) and isinstance(body.get("__type"), str):
        return body["__type"].rsplit("#", 1)[-1]
    return None


def apply_service_rules(step, status, body):
    """Rewrite DynamoDB Local's answer where the service is known to answer otherwise.

    These are the systematic differences listed in shared/dynamodb/README.md and
    tests/conformance/README.md. Returns the notes of the rules that fired (an empty list when
    Local's answer stands as is); `body` is changed in place.
    """
    notes = []
    request = step.get("request") if isinstance(step.get("request"), dict) else {}
    name = request.get("TableName")
    if status == 400 and error_type(body) == "ResourceNotFoundException" \
            and body.get("message") == LOCAL_MISSING_TABLE:
        if step["op"] in TABLE_OPS:
            body["message"] = f"Requested resource not found: Table: {name} not found"
        else:
            body["message"] = "Requested resource not found"
        notes.append("missing table: the service's message replaces Local's "
                     f"'{LOCAL_MISSING_TABLE}'")
    if status == 400 and error_type(body) == "ResourceInUseException" \
            and body.get("message") == LOCAL_TABLE_EXISTS:
        body["message"] = f"Table already exists: {name}"
        notes.append(f"existing table: the service says 'Table already exists: <name>', Local "
                     f"'{LOCAL_TABLE_EXISTS}'")
    if status == 200 and isinstance(body, dict):
        description = body.get("TableDescription") or body.get("Table")
        if isinstance(description, dict):
            if "TableId" not in description:
                description["TableId"] = ANY
                notes.append("the service's table description carries TableId; Local's lacks it")
            status_rule = STATUS_RULES.get(step["op"])
            if status_rule and status_rule[1](request) \
                    and description.get("TableStatus") != status_rule[0]:
                description["TableStatus"] = status_rule[0]
                notes.append(f"{step['op']}: the service answers TableStatus {status_rule[0]}; "
                             "Local ACTIVE")
            for index in description.get("GlobalSecondaryIndexes") or []:
                if "ProvisionedThroughput" not in index:
                    index["ProvisionedThroughput"] = {
                        "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
                    notes.append("the service describes an on-demand GSI with ProvisionedThroughput "
                                 f"0/0; Local omits it for GSI {index.get('IndexName')} (a "
                                 "multi-attribute key)")
            if step["op"] == "CreateTable":
                for index in description.get("GlobalSecondaryIndexes") or []:
                    if index.get("IndexStatus") == "ACTIVE":
                        index["IndexStatus"] = "CREATING"
                        notes.append("CreateTable: the service answers IndexStatus CREATING for "
                                     f"GSI {index.get('IndexName')}; Local ACTIVE")
    return notes


# ---------------------------------------------------------------------------------------------
# Comparison


def compare(expected, got, path="$", unordered=False):
    """Compare a recorded value with an answer; return a list of human-readable differences.

    Objects are compared by key (an expected `<optional>` member may be missing, no other member
    may be missing or extra); arrays in order, except under UNORDERED_KEYS; numbers by value;
    `<any>` matches any present value.
    """
    if expected in (ANY, OPTIONAL):
        return []
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {short(got)}"]
        diffs = []
        for key, value in expected.items():
            if key not in got:
                if value != OPTIONAL:
                    diffs.append(f"{path}.{key}: missing (expected {short(value)})")
            else:
                diffs.extend(compare(value, got[key], f"{path}.{key}", key in UNORDERED_KEYS))
        diffs.extend(f"{path}.{key}: unexpected member ({short(got[key])})"
                     for key in got if key not in expected)
        return diffs
    if isinstance(expected, list):
        if not isinstance(got, list):
            return [f"{path}: expected an array, got {short(got)}"]
        if len(expected) != len(got):
            return [f"{path}: expected {len(expected)} elements {short(expected)}, "
                    f"got {len(got)} {short(got)}"]
        if unordered:
            remaining = list(got)
            for value in expected:
                match = next((i for i, g in enumerate(remaining) if not compare(value, g)), None)
                if match is None:
                    return [f"{path}: expected the elements {short(expected)} in any order, "
                            f"got {short(got)}"]
                remaining.pop(match)
            return []
        diffs = []
        for i, (e, g) in enumerate(zip(expected, got)):
            diffs.extend(compare(e, g, f"{path}[{i}]"))
        return diffs
    if isinstance(expected, bool) or isinstance(got, bool):
        same = expected is got
    elif isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        same = float(expected) == float(got)
    else:
        same = expected == got
    return [] if same else [f"{path}: expected {short(expected)}, got {short(got)}"]


def short(value, limit=300):
    """A JSON rendering of `value`, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def compare_step(step, status, body):
    """Differences between a recorded step and the (status, body) a server answered."""
    diffs = []
    if step.get("status") != status:
        diffs.append(f"status: expected {step.get('status')}, got {status}")
    expected = step.get("response")
    if isinstance(body, dict) and "Message" in body and "message" not in body:
        body = dict(body)
        body["message"] = body.pop("Message")
    # The step's `unordered` members (a multi-partition Scan's Items, in DynamoDB's hash order)
    # are compared as multisets, apart from the rest of the body.
    for key in step.get("unordered") or []:
        if isinstance(expected, dict) and isinstance(body, dict) \
                and key in expected and key in body:
            diffs.extend(compare(expected[key], body[key], f"$.{key}", unordered=True))
            expected = {k: v for k, v in expected.items() if k != key}
            body = {k: v for k, v in body.items() if k != key}
    diffs.extend(compare(expected, body))
    return diffs


# ---------------------------------------------------------------------------------------------
# Recording and checking


def record_case(endpoint, path, case):
    """Send every step of `case` to DynamoDB Local and store the answers in the case (in place).

    Steps marked "source": "service" keep their hand-written answer; they are sent only when that
    answer is a success (so that Local's state follows the service's), since a request the service
    rejects changes nothing. Cleanup steps are rebuilt from the tables the case leaves behind.
    """
    preclean(endpoint, case)
    steps = [s for s in case["steps"] if not s.get("cleanup")]
    alive, protected = [], set()
    for step in steps:
        if step.get("source") == "service" and step.get("status") != 200:
            # A request the service rejects changes nothing there: do not let Local act on it.
            continue
        status, body = send(endpoint, step)
        if step.get("source") != "service":
            body = normalize_body(body)
            notes = apply_service_rules(step, status, body)
            step["status"], step["response"] = status, body
            if notes:
                step["adjusted"] = notes
            else:
                step.pop("adjusted", None)
        track_tables(step, status, alive, protected)
    cleanup = cleanup_steps(alive, protected)
    for step in cleanup:
        send(endpoint, step)
    case["steps"] = steps + cleanup
    save_case(path, case)


def track_tables(step, status, alive, protected):
    """Follow which tables exist (and which are deletion-protected) after `step`."""
    request = step.get("request") if isinstance(step.get("request"), dict) else {}
    name = request.get("TableName")
    ok = status == 200 or step.get("status") == 200
    if not ok or not isinstance(name, str):
        return
    if step["op"] == "CreateTable" and name not in alive:
        alive.append(name)
    if step["op"] == "DeleteTable" and name in alive:
        alive.remove(name)
    if step["op"] in ("CreateTable", "UpdateTable") and "DeletionProtectionEnabled" in request:
        if request["DeletionProtectionEnabled"]:
            protected.add(name)
        else:
            protected.discard(name)


def cleanup_steps(alive, protected):
    """The steps that remove the tables a case leaves behind (answers not compared)."""
    steps = []
    for name in alive:
        if name in protected:
            steps.append({"op": "UpdateTable", "cleanup": True,
                          "request": {"TableName": name, "DeletionProtectionEnabled": False}})
        steps.append({"op": "DeleteTable", "cleanup": True, "request": {"TableName": name}})
    return steps


def check_case(endpoint, case):
    """Replay `case` against `endpoint`; return a list of differences (empty when it conforms)."""
    preclean(endpoint, case)
    problems = []
    for i, step in enumerate(case["steps"], 1):
        status, body = send(endpoint, step)
        if step.get("cleanup"):
            continue
        if "status" not in step:
            problems.append(f"step {i} ({step['op']}): not recorded yet")
            continue
        diffs = compare_step(step, status, body)
        if diffs:
            problems.append(f"step {i} ({step['op']}): " + "; ".join(diffs)
                            + f"\n      got: {short(body, 600)}")
    return problems


def main(argv=None):
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT,
                        help=f"DynamoDB Local to record from (default {DEFAULT_ENDPOINT})")
    parser.add_argument("--check", metavar="URL",
                        help="compare the server at URL against the cases; write nothing")
    parser.add_argument("paths", nargs="*", help="case files or directories (default: all)")
    args = parser.parse_args(argv)

    failed = skipped = 0
    files = case_files(args.paths)
    for path in files:
        case = load_case(path)
        name = os.path.relpath(path, CASES_DIR) if path.startswith(CASES_DIR) else path
        if args.check:
            if case.get("pending"):
                print(f"SKIP {name}: pending: {case['pending']}")
                skipped += 1
                continue
            problems = check_case(args.check, case)
            print(("FAIL " if problems else "ok   ") + name)
            for problem in problems:
                print("    " + problem)
            failed += bool(problems)
        else:
            record_case(args.endpoint, path, case)
            manual = sum(1 for s in case["steps"] if s.get("source") == "service")
            print(f"recorded {name}" + (f" ({manual} service step(s) kept)" if manual else ""))
    if args.check:
        print(f"{len(files) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
