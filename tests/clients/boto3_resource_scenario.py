#!/usr/bin/env python3
"""The client scenario through boto3's resource API: Table objects, Python types (Decimal for
numbers), condition builders (Key, Attr), the batch_writer, Table.wait_until_exists.

Usage: boto3_resource_scenario.py ENDPOINT   (run by tests/clients.rs)
"""

from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from scenario import MAYBE_MISSING, CREDENTIALS, Steps, check, check_eq, endpoint, jazz_songs
from scenario import table_name


def unknown_operation(exc):
    if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "UnknownOperationException":
        return exc.operation_name
    return None


def main():
    ddb = boto3.resource("dynamodb", endpoint_url=endpoint(), **CREDENTIALS)
    client = ddb.meta.client
    name = table_name("boto3_resource")
    steps = Steps("boto3-resource", unknown_operation)
    model = {}

    with steps.step("create table with a GSI, wait with Table.wait_until_exists"):
        table = ddb.create_table(
            TableName=name,
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
        table.wait_until_exists()
        table.reload()
        check_eq(table.table_status, "ACTIVE", "table status")
        check_eq(table.global_secondary_indexes[0]["IndexName"], "byGenre", "GSI")
        check(name in [t.name for t in ddb.tables.all()], "table listed by tables.all()")

    with steps.step("put"):
        item = {"pk": "rock#1", "sk": "v1", "genre": "rock", "year": 1977, "plays": 0,
                "title": "Heroes", "tags": {"glam", "berlin"}, "meta": {"bpm": Decimal("1.5"),
                                                                      "live": False}}
        table.put_item(Item=item)
        got = table.get_item(Key={"pk": "rock#1", "sk": "v1"}, ConsistentRead=True)["Item"]
        check_eq(got, item, "item read back with Python types")
        check(isinstance(got["year"], Decimal), "numbers come back as Decimal")
        model["rock#1"] = item

    with steps.step("conditional update"):
        out = table.update_item(
            Key={"pk": "rock#1", "sk": "v1"},
            UpdateExpression="SET plays = plays + :one ADD tags :new",
            ConditionExpression=Attr("pk").exists() & Attr("plays").eq(0),
            ExpressionAttributeValues={":one": 1, ":new": {"live"}},
            ReturnValues="UPDATED_NEW")
        check_eq(out["Attributes"], {"plays": 1, "tags": {"glam", "berlin", "live"}},
                 "UPDATED_NEW")
        model["rock#1"]["plays"] = 1

    with steps.step("conditional failure is ConditionalCheckFailedException"):
        try:
            table.update_item(Key={"pk": "rock#1", "sk": "v1"},
                              UpdateExpression="SET plays = plays + :one",
                              ConditionExpression=Attr("plays").eq(0),
                              ExpressionAttributeValues={":one": 1})
            raise AssertionError("the update should have failed its condition")
        except client.exceptions.ConditionalCheckFailedException as e:
            check_eq(e.response["Error"]["Code"], "ConditionalCheckFailedException", "code")
        try:
            table.put_item(Item={"pk": "rock#1", "sk": "v1"},
                           ConditionExpression=Attr("pk").not_exists())
            raise AssertionError("the put should have failed its condition")
        except client.exceptions.ConditionalCheckFailedException:
            pass

    songs = jazz_songs()
    with steps.step("batch write with Table.batch_writer", may_be_missing=MAYBE_MISSING) as st:
        with table.batch_writer() as batch:
            for s in songs:
                batch.put_item(Item=s)
    if st.skipped:
        for s in songs:
            table.put_item(Item=s)
    model.update({s["pk"]: dict(s) for s in songs})

    with steps.step("batch get", may_be_missing=MAYBE_MISSING):
        request = {name: {"Keys": [{"pk": pk, "sk": "v1"} for pk in ["song#03", "song#04", "x"]]}}
        got = []
        while request:
            out = ddb.batch_get_item(RequestItems=request)
            got += out["Responses"][name]
            request = out["UnprocessedKeys"]
        check_eq(sorted(i["title"] for i in got), ["Song 3", "Song 4"], "batch get items")

    with steps.step("query the GSI, paging with LastEvaluatedKey"):
        kwargs = dict(IndexName="byGenre", Limit=6,
                      KeyConditionExpression=Key("genre").eq("jazz") &
                      Key("year").between(1995, 2014))
        sizes, years = [], []
        while True:
            page = table.query(**kwargs)
            sizes.append(page["Count"])
            years += [int(i["year"]) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        check_eq(years, list(range(1995, 2015)), "years in index order")
        check_eq(sizes, [6, 6, 6, 2], "page sizes")
        # Newest first, and a projection.
        page = table.query(IndexName="byGenre", ScanIndexForward=False, Limit=2,
                           KeyConditionExpression=Key("genre").eq("jazz"),
                           ProjectionExpression="title")
        check_eq(page["Items"], [{"title": "Song 29"}, {"title": "Song 28"}], "descending")

    with steps.step("transaction (TransactWriteItems)", may_be_missing=MAYBE_MISSING):
        # The resource's client takes Python values here too (its serializer is attached).
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": name,
                     "Item": {"pk": "txn#1", "sk": "v1", "genre": "jazz", "year": 2020,
                              "plays": 4}}},
            {"Update": {"TableName": name, "Key": {"pk": "song#00", "sk": "v1"},
                        "UpdateExpression": "SET plays = :n",
                        "ExpressionAttributeValues": {":n": 3}}},
        ])
        model["txn#1"] = {"pk": "txn#1", "sk": "v1", "genre": "jazz", "year": 2020, "plays": 4}
        model["song#00"]["plays"] = 3
        try:
            client.transact_write_items(TransactItems=[
                {"Delete": {"TableName": name, "Key": {"pk": "song#05", "sk": "v1"}}},
                {"Put": {"TableName": name, "Item": {"pk": "txn#1", "sk": "v1"},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            raise AssertionError("the transaction should have been cancelled")
        except client.exceptions.TransactionCanceledException as e:
            check_eq([r["Code"] for r in e.response["CancellationReasons"]],
                     ["None", "ConditionalCheckFailed"], "cancellation reasons")
        check("Item" in table.get_item(Key={"pk": "song#05", "sk": "v1"}),
              "the cancelled transaction deleted nothing")

    with steps.step("scan with a filter (Attr conditions)"):
        kwargs = dict(FilterExpression=Attr("genre").eq("jazz") & Attr("plays").gte(3), Limit=10)
        found = []
        while True:
            page = table.scan(**kwargs)
            found += [i["pk"] for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        want = sorted(pk for pk, i in model.items() if i.get("genre") == "jazz"
                      and i.get("plays", 0) >= 3)
        check_eq(sorted(found), want, "filtered items")

    with steps.step("delete table, wait with Table.wait_until_not_exists"):
        table.delete()
        table.wait_until_not_exists()

    steps.done()


if __name__ == "__main__":
    main()
