#!/usr/bin/env python3
"""The never-miss reader, in boto3: polls every shard of a stream as fast as it can, from the
trim horizon, until a stop file appears and a full pass over the shards finds nothing new.
Prints one JSON line per record: {"key": pk, "event": eventName, "v": NewImage.v or null}.

Usage: streams_reader.py ENDPOINT STREAM_ARN STOP_FILE   (run by tests/streams.rs)
"""

import json
import os
import sys

import boto3


def main():
    endpoint, arn, stop_file = sys.argv[1:4]
    client = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    shards = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterators = {}
    last_sequence = {}
    for shard in shards:
        shard_id = shard["ShardId"]
        iterators[shard_id] = client.get_shard_iterator(
            StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        last_sequence[shard_id] = 0
    while True:
        stopping = os.path.exists(stop_file)
        found = 0
        for shard_id, iterator in iterators.items():
            page = client.get_records(ShardIterator=iterator)
            for record in page["Records"]:
                body = record["dynamodb"]
                sequence = int(body["SequenceNumber"])
                if sequence <= last_sequence[shard_id]:
                    sys.exit(f"sequence numbers went backwards in {shard_id}")
                last_sequence[shard_id] = sequence
                value = body.get("NewImage", {}).get("v", {}).get("N")
                print(json.dumps({"key": body["Keys"]["pk"]["S"], "event": record["eventName"],
                                  "v": value}))
            found += len(page["Records"])
            iterators[shard_id] = page["NextShardIterator"]
        if stopping and found == 0:
            break


if __name__ == "__main__":
    main()
