"""Shared bits of the Python client scenarios (boto3 client, boto3 resource, PynamoDB).

Every scenario runs the same steps against a dynamo-pg endpoint (tests/clients.rs passes it as the
only argument) and keeps a model of what the table should hold, so that a step the server cannot
run yet (an operation it answers with UnknownOperationException) is skipped with a printed note,
and the steps after it still check exactly what they should see.
"""

import contextlib
import os
import sys

# Operations still being built on the server: only these may be skipped, and only when the
# server says it does not know them. Anything else that fails, fails the scenario.
MAYBE_MISSING = ("BatchWriteItem", "BatchGetItem", "TransactWriteItems", "TransactGetItems")

CREDENTIALS = dict(region_name="us-east-1", aws_access_key_id="local",
                   aws_secret_access_key="local")


def endpoint():
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} ENDPOINT")
    return sys.argv[1]


def table_name(client):
    """A table name unique to this run, so scenarios can share a server."""
    return f"clients_{client}_{os.getpid()}"


def jazz_songs():
    """The items the batch-write step puts: 30 jazz songs, years 1990..2019, plays 0..4."""
    return [{"pk": f"song#{i:02}", "sk": "v1", "genre": "jazz", "year": 1990 + i, "plays": i % 5,
             "title": f"Song {i}"} for i in range(30)]


class Step:
    def __init__(self, name):
        self.name = name
        self.skipped = False


class Steps:
    """Runs named steps; prints each; turns "server does not know this operation" into a skip
    note for the operations in MAYBE_MISSING; prints a summary line at the end."""

    def __init__(self, client, unknown_operation):
        # unknown_operation(exc) -> the operation name if exc is the server's
        # UnknownOperationException, else None.
        self.client = client
        self.unknown_operation = unknown_operation
        self.passed = 0
        self.skipped = []

    @contextlib.contextmanager
    def step(self, name, may_be_missing=()):
        step = Step(name)
        print(f"[{self.client}] step: {name}", flush=True)
        try:
            yield step
        except Exception as exc:  # noqa: BLE001 - classify, then re-raise
            op = self.unknown_operation(exc)
            if op is None or not any(m in (op or "") for m in may_be_missing):
                print(f"[{self.client}] FAILED step: {name}: {type(exc).__name__}: {exc}",
                      flush=True)
                raise
            step.skipped = True
            note = (f"SKIP [{self.client}] step '{name}': the server answered "
                    f"UnknownOperationException ({op} is not implemented yet)")
            self.skipped.append(note)
            print(note, flush=True)
            return
        self.passed += 1

    def done(self):
        print(f"[{self.client}] scenario done: {self.passed} steps ran, "
              f"{len(self.skipped)} skipped", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
