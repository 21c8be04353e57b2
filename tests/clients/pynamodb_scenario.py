#!/usr/bin/env python3
"""The client scenario through PynamoDB: a Model with a GlobalSecondaryIndex, create_table(wait=True),
conditions and update actions, PutError/UpdateError carrying the DynamoDB cause, the batch_write
context manager, batch_get, TransactWrite, and its own result paging.

Usage: pynamodb_scenario.py ENDPOINT   (run by tests/clients.rs)
"""

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from scenario import MAYBE_MISSING, CREDENTIALS, Steps, check, check_eq, endpoint, jazz_songs
from scenario import table_name

ENDPOINT = endpoint()
KEYS = dict(host=ENDPOINT, region=CREDENTIALS["region_name"],
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"])


class ByGenre(GlobalSecondaryIndex):
    class Meta:
        index_name = "byGenre"
        projection = AllProjection()

    genre = UnicodeAttribute(hash_key=True)
    year = NumberAttribute(range_key=True)


class Song(Model):
    class Meta:
        table_name = table_name("pynamodb")
        billing_mode = "PAY_PER_REQUEST"
        host = KEYS["host"]
        region = KEYS["region"]
        aws_access_key_id = KEYS["aws_access_key_id"]
        aws_secret_access_key = KEYS["aws_secret_access_key"]

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    genre = UnicodeAttribute(null=True)
    year = NumberAttribute(null=True)
    plays = NumberAttribute(default=0)
    title = UnicodeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
    by_genre = ByGenre()


def unknown_operation(exc):
    """PynamoDB wraps botocore's ClientError in its own exceptions (the cause)."""
    if isinstance(exc, PynamoDBException) and exc.cause_response_code == "UnknownOperationException":
        return getattr(exc.cause, "operation_name", None) or exc.cause_response_message
    return None


def main():
    steps = Steps("pynamodb", unknown_operation)
    model = {}

    with steps.step("create table with a GSI, create_table(wait=True)"):
        check(not Song.exists(), "table absent before")
        Song.create_table(wait=True)
        check(Song.exists(), "Song.exists()")
        desc = Song._get_connection().describe_table()
        check_eq(desc["TableStatus"], "ACTIVE", "table status")
        check_eq([g["IndexName"] for g in desc["GlobalSecondaryIndexes"]], ["byGenre"], "GSIs")

    with steps.step("put"):
        song = Song("rock#1", "v1", genre="rock", year=1977, title="Heroes", tags={"glam"})
        song.save()
        got = Song.get("rock#1", "v1", consistent_read=True)
        check_eq(got.attribute_values, song.attribute_values, "item read back")
        model["rock#1"] = {"genre": "rock", "plays": 0}

    with steps.step("conditional update (actions and a condition)"):
        song.update(actions=[Song.plays.add(1), Song.tags.add({"berlin"})],
                    condition=Song.pk.exists() & (Song.plays == 0))
        check_eq((song.plays, song.tags), (1, {"glam", "berlin"}), "values after update")
        model["rock#1"]["plays"] = 1

    with steps.step("conditional failure: UpdateError / PutError with the cause"):
        try:
            song.update(actions=[Song.plays.add(1)], condition=Song.plays == 0)
            raise AssertionError("the update should have failed its condition")
        except UpdateError as e:
            check_eq(e.cause_response_code, "ConditionalCheckFailedException", "UpdateError cause")
            check_eq(e.cause_response_message, "The conditional request failed", "message")
        try:
            Song("rock#1", "v1").save(condition=Song.pk.does_not_exist())
            raise AssertionError("the put should have failed its condition")
        except PutError as e:
            check_eq(e.cause_response_code, "ConditionalCheckFailedException", "PutError cause")

    songs = [Song(s["pk"], s["sk"], genre=s["genre"], year=s["year"], plays=s["plays"],
                  title=s["title"]) for s in jazz_songs()]
    with steps.step("batch write (Song.batch_write())", may_be_missing=MAYBE_MISSING) as st:
        with Song.batch_write() as batch:
            for s in songs:
                batch.save(s)
    if st.skipped:
        for s in songs:
            s.save()
    model.update({s.pk: {"genre": "jazz", "plays": s.plays} for s in songs})

    with steps.step("batch get (Song.batch_get())", may_be_missing=MAYBE_MISSING):
        got = list(Song.batch_get([("song#03", "v1"), ("song#04", "v1"), ("nope", "v1")]))
        check_eq(sorted(s.title for s in got), ["Song 3", "Song 4"], "batch get items")

    with steps.step("query the GSI with paging"):
        years = [s.year for s in Song.by_genre.query("jazz", Song.year.between(1995, 2014),
                                                      page_size=6)]
        check_eq(years, list(range(1995, 2015)), "all pages, in index order")
        sizes, last_key = [], None
        while True:
            page = Song.by_genre.query("jazz", Song.year.between(1995, 2014), limit=6,
                                       last_evaluated_key=last_key)
            sizes.append(len(list(page)))
            last_key = page.last_evaluated_key
            if last_key is None:
                break
        check_eq(sizes, [6, 6, 6, 2], "page sizes with limit + last_evaluated_key")

    connection = Connection(**KEYS)
    with steps.step("transaction (TransactWrite)", may_be_missing=MAYBE_MISSING):
        with TransactWrite(connection=connection) as tx:
            tx.save(Song("txn#1", "v1", genre="jazz", year=2020, plays=5),
                    condition=Song.pk.does_not_exist())
            tx.update(Song("song#00", "v1"), actions=[Song.plays.set(4)])
            tx.condition_check(Song, "song#01", "v1", condition=Song.pk.exists())
        model["txn#1"] = {"genre": "jazz", "plays": 5}
        model["song#00"]["plays"] = 4
        check_eq(Song.get("song#00", "v1").plays, 4, "updated in the transaction")
        try:
            with TransactWrite(connection=connection) as tx:
                tx.delete(Song("song#05", "v1"))
                tx.condition_check(Song, "song#01", "v1", condition=Song.plays == 999)
            raise AssertionError("the transaction should have been cancelled")
        except TransactWriteError as e:
            check_eq(e.cause_response_code, "TransactionCanceledException", "cause")
            # One reason per action, in the order PynamoDB sent them (condition checks first).
            check_eq(sorted(r.code if r else "None" for r in e.cancellation_reasons),
                     ["ConditionalCheckFailed", "None"], "cancellation reasons")
        check(Song.count("song#05", Song.sk == "v1") == 1, "nothing deleted by the cancelled one")

    with steps.step("scan with a filter"):
        found = sorted(s.pk for s in Song.scan((Song.genre == "jazz") & (Song.plays >= 3),
                                                page_size=10))
        want = sorted(pk for pk, i in model.items() if i["genre"] == "jazz" and i["plays"] >= 3)
        check_eq(found, want, "filtered items")

    with steps.step("delete table, delete_table(wait=True)"):
        Song.delete_table(wait=True)
        check(not Song.exists(), "table gone")

    steps.done()


if __name__ == "__main__":
    main()
