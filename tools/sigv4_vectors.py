#!/usr/bin/env python3
"""Signs DynamoDB requests with botocore's SigV4 signers and writes them as test vectors.

The Rust verifier in src/auth must accept every request botocore (boto3, the AWS CLI) signs, so
these vectors are requests exactly as they go on the wire: path and query as sent, every header
(names in lowercase, duplicates kept, leading and trailing blanks removed as an HTTP server
does), the body, and botocore's own canonical request for diagnosis. The date and credentials are
fixed, so the output is reproducible.

Usage: python3 tools/sigv4_vectors.py  (writes src/auth/testdata/botocore_vectors.json)
"""

import datetime
import json
import os
import sys
from unittest import mock
from urllib.parse import urlsplit

import botocore
import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NOW = datetime.datetime(2026, 3, 15, 12, 34, 56)
KEYS = {
    "AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"
PUT_ITEM = json.dumps(
    {"TableName": "Music", "Item": {"Artist": {"S": "No One You Know"}, "Year": {"N": "2026"}}}
)


def json_headers(operation):
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
    }


class Recording:
    """Wraps a signer class so that the canonical request it computes is kept."""

    def __init__(self, signer_class):
        recording = self

        class Recorder(signer_class):
            def canonical_request(self, request):
                recording.canonical = super().canonical_request(request)
                return recording.canonical

        self.signer_class = Recorder
        self.canonical = None


def sign(name, *, url=ENDPOINT + "/", method="POST", headers=None, extra_headers=(), body="",
         params=None, key="AKIDEXAMPLE", region="us-east-1", token=None, presign_expires=None):
    """Signs one request and returns its vector."""
    request = AWSRequest(method=method, url=url, data=body, params=params or {})
    for header, value in (headers or {}).items():
        request.headers[header] = value
    # HTTPHeaders appends on assignment, which is how duplicate headers are built.
    for header, value in extra_headers:
        request.headers[header] = value
    credentials = Credentials(key, KEYS[key], token)
    if presign_expires is None:
        recording = Recording(SigV4Auth)
        signer = recording.signer_class(credentials, "dynamodb", region)
    else:
        recording = Recording(SigV4QueryAuth)
        signer = recording.signer_class(credentials, "dynamodb", region, expires=presign_expires)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
        signer.add_auth(request)

    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    wire_headers = [("host", _host_from_url(prepared.url))]
    # What an HTTP server hands over: names lowercased, surrounding blanks gone.
    wire_headers += [(n.lower(), v.strip(" \t")) for n, v in request.headers.items()]
    if prepared.body:
        wire_headers.append(("content-length", str(len(prepared.body))))
    wire_body = prepared.body or b""
    if isinstance(wire_body, str):
        wire_body = wire_body.encode("utf-8")
    return {
        "name": name,
        "access_key_id": key,
        "region": region,
        "method": prepared.method,
        "path": parts.path,
        "query": parts.query or None,
        "headers": [list(h) for h in wire_headers],
        "body": wire_body.decode("utf-8"),
        "canonical_request": recording.canonical,
    }


def vectors():
    yield sign("put_item", headers=json_headers("PutItem"), body=PUT_ITEM)
    yield sign("list_tables_empty_object", headers=json_headers("ListTables"), body="{}")
    yield sign("empty_body", headers=json_headers("ListTables"), body="")
    yield sign(
        "unicode_body",
        headers=json_headers("PutItem"),
        body=json.dumps({"TableName": "t", "Item": {"k": {"S": "h\u00e9llo \u20ac \U0001f600"}}},
                        ensure_ascii=False),
    )
    yield sign(
        "local_endpoint_with_port",
        url="http://localhost:8000/",
        headers=json_headers("ListTables"),
        body="{}",
    )
    yield sign(
        "other_key_and_region",
        url="https://dynamodb.eu-west-1.amazonaws.com/",
        headers=json_headers("DescribeTable"),
        body='{"TableName":"Music"}',
        key="AKIAIOSFODNN7EXAMPLE",
        region="eu-west-1",
    )
    yield sign(
        "streams_endpoint",
        url="https://streams.dynamodb.us-east-1.amazonaws.com/",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDBStreams_20120810.ListStreams",
        },
        body="{}",
    )
    yield sign(
        "path_with_special_characters",
        url=ENDPOINT + "/a%20b/c%2Fd/%E2%82%AC/~x-y_z.w/%21%27%28%29%2A",
        headers=json_headers("ListTables"),
        body="{}",
    )
    yield sign(
        "path_with_dot_segments_and_double_slashes",
        url=ENDPOINT + "/foo/../bar//baz/./q/",
        headers=json_headers("ListTables"),
        body="{}",
    )
    yield sign(
        "query_in_url",
        url=ENDPOINT + "/?b=2&a=1&a=0&empty=&flag",
        headers=json_headers("ListTables"),
        body="{}",
    )
    yield sign(
        "query_params_needing_encoding",
        headers=json_headers("ListTables"),
        params={"q": "a b", "r": "x/y~", "s": "\u20ac&=+"},
        body="{}",
    )
    yield sign(
        "duplicate_headers",
        headers=json_headers("ListTables"),
        extra_headers=[("X-Amz-Meta-Dup", "first"), ("X-Amz-Meta-Dup", "second  value")],
        body="{}",
    )
    yield sign(
        "whitespace_in_header_values",
        headers=json_headers("ListTables"),
        extra_headers=[("X-Custom-Spaces", "  a   b    c  "), ("X-Custom-Tab", "a \t b\tc")],
        body="{}",
    )
    yield sign(
        "date_header_instead_of_x_amz_date",
        headers={**json_headers("ListTables"), "Date": "Thu, 01 Jan 2026 00:00:00 GMT"},
        body="{}",
    )
    yield sign(
        "session_token",
        headers=json_headers("ListTables"),
        body="{}",
        token="IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==",
    )
    yield sign(
        "explicit_content_sha256_header",
        headers={
            **json_headers("ListTables"),
            "X-Amz-Content-SHA256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        },
        body="{}",
    )
    yield sign("presigned_get", method="GET", presign_expires=300)
    yield sign(
        "presigned_post_with_query",
        url=ENDPOINT + "/?Action=ListTables&Version=2012-08-10",
        presign_expires=3600,
    )
    yield sign("presigned_session_token", presign_expires=900, token="EXAMPLE/TOKEN+with=chars")


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "auth",
                       "testdata", "botocore_vectors.json")
    document = {
        "generator": f"tools/sigv4_vectors.py, botocore {botocore.__version__}",
        "signed_at": NOW.strftime("%Y%m%dT%H%M%SZ"),
        "credentials": [{"access_key_id": k, "secret_access_key": s} for k, s in KEYS.items()],
        "vectors": list(vectors()),
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(document['vectors'])} vectors to {os.path.normpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
