#!/usr/bin/env python3
"""The client scenario through boto3's low-level client API: waiters, paginators, typed errors
(client.exceptions.*), and botocore's x-amz-crc32 check on every response.

Usage: boto3_scenario.py ENDPOINT   (run by tests/clients.rs)
"""

import boto3
from botocore.exceptions import ClientError

from scenario import MAYBE_MISSING, CREDENTIALS, Steps, check, check_eq, endpoint, jazz_songs
from scenario import table_name


def unknown_operation(exc):
    if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "UnknownOperationException":
        return exc.operation_name
    return None


def av(item):
    """A plain dict as DynamoDB attribute values (strings and numbers only)."""
    return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in item.items()}


def plain(item):
    return {k: (int(v["N"]) if "N" in v else v["S"]) for k, v in item.items()}


def main():
    ddb = boto3.client("dynamodb", endpoint_url=endpoint(), **CREDENTIALS)
    table = table_name("boto3")
    steps = Steps("boto3", unknown_operation)
    model = {}  # pk -> item, what the table should hold

    with steps.step("create table with a GSI, wait with table_exists"):
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                                  [("pk", "S"), ("sk", "S"), ("genre", "S"), ("year", "N")]],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "byGenre",
                "KeySchema": [{"AttributeName": "genre", "KeyType": "HASH"},
                              {"AttributeName": "year", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.get_waiter("table_exists").wait(TableName=table)
        desc = ddb.describe_table(TableName=table)["Table"]
        check_eq(desc["TableStatus"], "ACTIVE", "table status")
        check_eq([g["IndexName"] for g in desc["GlobalSecondaryIndexes"]], ["byGenre"], "GSIs")
        check(table in ddb.list_tables()["TableNames"], "table listed")

    with steps.step("put"):
        item = {"pk": "rock#1", "sk": "v1", "genre": "rock", "year": 1977, "plays": 0,
                "title": "Heroes"}
        ddb.put_item(TableName=table, Item=av(item))
        got = ddb.get_item(TableName=table, Key=av({"pk": "rock#1", "sk": "v1"}),
                           ConsistentRead=True)["Item"]
        check_eq(plain(got), item, "item read back")
        model["rock#1"] = item

    with steps.step("conditional update"):
        out = ddb.update_item(
            TableName=table, Key=av({"pk": "rock#1", "sk": "v1"}),
            UpdateExpression="SET plays = plays + :one",
            ConditionExpression="attribute_exists(pk) AND plays = :zero",
            ExpressionAttributeValues=av({":one": 1, ":zero": 0}),
            ReturnValues="UPDATED_NEW")
        check_eq(plain(out["Attributes"]), {"plays": 1}, "UPDATED_NEW")
        model["rock#1"]["plays"] = 1

    with steps.step("conditional failure is ConditionalCheckFailedException"):
        try:
            ddb.update_item(
                TableName=table, Key=av({"pk": "rock#1", "sk": "v1"}),
                UpdateExpression="SET plays = plays + :one",
                ConditionExpression="plays = :zero",
                ExpressionAttributeValues=av({":one": 1, ":zero": 0}))
            raise AssertionError("the update should have failed its condition")
        except ddb.exceptions.ConditionalCheckFailedException as e:
            check_eq(e.response["Error"]["Message"], "The conditional request failed", "message")
            check_eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "status")
        # A put that must not overwrite, returning the item that made it fail.
        try:
            ddb.put_item(TableName=table, Item=av({"pk": "rock#1", "sk": "v1"}),
                         ConditionExpression="attribute_not_exists(pk)",
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")
            raise AssertionError("the put should have failed its condition")
        except ddb.exceptions.ConditionalCheckFailedException as e:
            check_eq(plain(e.response.get("Item", {})), model["rock#1"],
                     "ReturnValuesOnConditionCheckFailure item")

    songs = jazz_songs()
    with steps.step("batch write", may_be_missing=MAYBE_MISSING) as st:
        for start in range(0, len(songs), 25):
            requests = {table: [{"PutRequest": {"Item": av(s)}} for s in songs[start:start + 25]]}
            while requests:
                requests = ddb.batch_write_item(RequestItems=requests)["UnprocessedItems"]
    if st.skipped:
        for s in songs:
            ddb.put_item(TableName=table, Item=av(s))
    model.update({s["pk"]: dict(s) for s in songs})

    with steps.step("batch get", may_be_missing=MAYBE_MISSING):
        keys = [av({"pk": pk, "sk": "v1"}) for pk in ["song#03", "song#04", "nope"]]
        request = {table: {"Keys": keys, "ProjectionExpression": "pk, title"}}
        got = []
        while request:
            out = ddb.batch_get_item(RequestItems=request)
            got += out["Responses"][table]
            request = out["UnprocessedKeys"]
        check_eq(sorted((plain(i) for i in got), key=lambda i: i["pk"]),
                 [{"pk": "song#03", "title": "Song 3"}, {"pk": "song#04", "title": "Song 4"}],
                 "batch get items")

    with steps.step("query the GSI with the query paginator"):
        pages = ddb.get_paginator("query").paginate(
            TableName=table, IndexName="byGenre",
            KeyConditionExpression="genre = :g AND #y BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#y": "year"},
            ExpressionAttributeValues=av({":g": "jazz", ":lo": 1995, ":hi": 2014}),
            PaginationConfig={"PageSize": 6})
        sizes, years = [], []
        for page in pages:
            sizes.append(page["Count"])
            years += [int(i["year"]["N"]) for i in page["Items"]]
        check_eq(years, list(range(1995, 2015)), "years in index order")
        check_eq(sizes, [6, 6, 6, 2], "page sizes")

    with steps.step("transaction (TransactWriteItems)", may_be_missing=MAYBE_MISSING):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table,
                     "Item": av({"pk": "txn#1", "sk": "v1", "genre": "blues", "year": 2020,
                                 "plays": 7}),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": table, "Key": av({"pk": "song#00", "sk": "v1"}),
                        "UpdateExpression": "SET plays = plays + :ten",
                        "ConditionExpression": "plays = :zero",
                        "ExpressionAttributeValues": av({":ten": 10, ":zero": 0})}},
            {"ConditionCheck": {"TableName": table, "Key": av({"pk": "song#01", "sk": "v1"}),
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": table, "Key": av({"pk": "song#29", "sk": "v1"})}},
        ])
        model["txn#1"] = {"pk": "txn#1", "sk": "v1", "genre": "blues", "year": 2020, "plays": 7}
        model["song#00"]["plays"] = 10
        del model["song#29"]
        check_eq(plain(ddb.get_item(TableName=table, Key=av({"pk": "song#00", "sk": "v1"}))
                       ["Item"])["plays"], 10, "updated in the transaction")
        check("Item" not in ddb.get_item(TableName=table, Key=av({"pk": "song#29", "sk": "v1"})),
              "deleted in the transaction")
        # One failed condition cancels the whole transaction.
        try:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": av({"pk": "txn#2", "sk": "v1"})}},
                {"ConditionCheck": {"TableName": table, "Key": av({"pk": "song#01", "sk": "v1"}),
                                    "ConditionExpression": "plays = :n",
                                    "ExpressionAttributeValues": av({":n": 999})}},
            ])
            raise AssertionError("the transaction should have been cancelled")
        except ddb.exceptions.TransactionCanceledException as e:
            codes = [r["Code"] for r in e.response["CancellationReasons"]]
            check_eq(codes, ["None", "ConditionalCheckFailed"], "cancellation reasons")
        check("Item" not in ddb.get_item(TableName=table, Key=av({"pk": "txn#2", "sk": "v1"})),
              "nothing written by the cancelled transaction")

    with steps.step("transactional read (TransactGetItems)", may_be_missing=MAYBE_MISSING):
        out = ddb.transact_get_items(TransactItems=[
            {"Get": {"TableName": table, "Key": av({"pk": pk, "sk": "v1"}),
                     "ProjectionExpression": "pk, plays"}} for pk in ["song#00", "nope", "rock#1"]])
        check_eq([plain(r.get("Item", {})) for r in out["Responses"]],
                 [{"pk": "song#00", "plays": model["song#00"]["plays"]}, {},
                  {"pk": "rock#1", "plays": 1}], "items read in one transaction")

    with steps.step("scan with a filter, with the scan paginator"):
        pages = ddb.get_paginator("scan").paginate(
            TableName=table, FilterExpression="genre = :g AND plays >= :p",
            ExpressionAttributeValues=av({":g": "jazz", ":p": 3}),
            PaginationConfig={"PageSize": 10})
        found, scanned = [], 0
        for page in pages:
            found += [i["pk"]["S"] for i in page["Items"]]
            scanned += page["ScannedCount"]
        want = sorted(pk for pk, i in model.items() if i.get("genre") == "jazz"
                      and i.get("plays", 0) >= 3)
        check_eq(sorted(found), want, "filtered items")
        check_eq(scanned, len(model), "ScannedCount counts every item read")

    with steps.step("delete table, wait with table_not_exists"):
        ddb.delete_table(TableName=table)
        ddb.get_waiter("table_not_exists").wait(TableName=table)
        try:
            ddb.describe_table(TableName=table)
            raise AssertionError("table still described after delete")
        except ddb.exceptions.ResourceNotFoundException:
            pass

    steps.done()


if __name__ == "__main__":
    main()
