"""An S3 user's journey with boto3 (Debian's python3-boto3) against the FTFS gateway: every
step's outcome is printed as one JSON document for the test to judge."""
import hashlib
import json
import os
import sys
import urllib.request

from gateway_client import client, code_of

secret = os.environ["S3_SECRET"]
s3 = client()
out = {}


out["buckets_before"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
s3.create_bucket(Bucket="photos")
out["buckets_after"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
out["location"] = s3.get_bucket_location(Bucket="photos").get("LocationConstraint")

big = os.urandom(3 * 1024 * 1024 + 17)
s3.put_object(
    Bucket="photos",
    Key="2026/cat.jpg",
    Body=big,
    ContentType="image/jpeg",
    Metadata={"owner": "alice", "taken": "2026-12-07"},
)
keys = ["2026/dog.jpg", "2025/old.jpg", "a b/ü ✓.txt", "top.txt", "dir/../dots.txt", "empty", "x&y<z>'.txt"]
for key in keys:
    s3.put_object(Bucket="photos", Key=key, Body=b"" if key == "empty" else key.encode())

head = s3.head_object(Bucket="photos", Key="2026/cat.jpg")
out["head"] = {
    "length": head["ContentLength"],
    "etag": head["ETag"],
    "md5": '"' + hashlib.md5(big).hexdigest() + '"',
    "type": head["ContentType"],
    "meta": head["Metadata"],
}
got = s3.get_object(Bucket="photos", Key="2026/cat.jpg")["Body"].read()
out["get_sha256_ok"] = hashlib.sha256(got).hexdigest() == hashlib.sha256(big).hexdigest()
part = s3.get_object(Bucket="photos", Key="2026/cat.jpg", Range="bytes=1048570-1048590")
out["range"] = {
    "ok": part["Body"].read() == big[1048570:1048591],
    "status": part["ResponseMetadata"]["HTTPStatusCode"],
    "content_range": part["ContentRange"],
}
out["unicode_key"] = s3.get_object(Bucket="photos", Key="a b/ü ✓.txt")["Body"].read().decode()
out["dots_key"] = s3.get_object(Bucket="photos", Key="dir/../dots.txt")["Body"].read().decode()
out["empty_len"] = len(s3.get_object(Bucket="photos", Key="empty")["Body"].read())

listing = s3.list_objects_v2(Bucket="photos", Delimiter="/")
out["top_level"] = {
    "keys": [o["Key"] for o in listing.get("Contents", [])],
    "prefixes": [p["Prefix"] for p in listing.get("CommonPrefixes", [])],
}
paged = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="photos", PaginationConfig={"PageSize": 2}):
    paged.extend(o["Key"] for o in page.get("Contents", []))
out["paged_v2"] = paged
paged_v1 = []
for page in s3.get_paginator("list_objects").paginate(Bucket="photos", PaginationConfig={"PageSize": 3}):
    paged_v1.extend(o["Key"] for o in page.get("Contents", []))
out["paged_v1"] = paged_v1
out["prefix_2026"] = [o["Key"] for o in s3.list_objects_v2(Bucket="photos", Prefix="2026/").get("Contents", [])]

url = s3.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "top.txt"}, ExpiresIn=300)
out["presigned"] = urllib.request.urlopen(url).read().decode()

s3.copy_object(Bucket="photos", Key="copies/cat.jpg", CopySource={"Bucket": "photos", "Key": "2026/cat.jpg"})
copied = s3.get_object(Bucket="photos", Key="copies/cat.jpg")
out["copy"] = {
    "same": hashlib.sha256(copied["Body"].read()).hexdigest() == hashlib.sha256(big).hexdigest(),
    "etag": copied["ETag"],
    "type": copied["ContentType"],
    "meta": copied["Metadata"],
}
s3.copy_object(
    Bucket="photos",
    Key="copies/cat2.jpg",
    CopySource="photos/2026/cat.jpg",
    MetadataDirective="REPLACE",
    ContentType="image/png",
    Metadata={"new": "yes"},
)
replaced = s3.head_object(Bucket="photos", Key="copies/cat2.jpg")
out["copy_replaced"] = {"type": replaced["ContentType"], "meta": replaced["Metadata"], "etag": replaced["ETag"]}
out["copy_self"] = code_of(lambda: s3.copy_object(Bucket="photos", Key="top.txt", CopySource="photos/top.txt"))
out["copy_missing"] = code_of(lambda: s3.copy_object(Bucket="photos", Key="y", CopySource="photos/missing"))
s3.delete_objects(
    Bucket="photos", Delete={"Objects": [{"Key": "copies/cat.jpg"}, {"Key": "copies/cat2.jpg"}]}
)

out["no_such_key"] = code_of(lambda: s3.get_object(Bucket="photos", Key="missing"))
out["no_such_bucket"] = code_of(lambda: s3.list_objects_v2(Bucket="nothere"))
out["not_empty"] = code_of(lambda: s3.delete_bucket(Bucket="photos"))
out["bad_name"] = code_of(lambda: s3.create_bucket(Bucket="Bad_Name"))
out["bad_md5"] = code_of(
    lambda: s3.put_object(Bucket="photos", Key="x", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
)
wrong = client(secret=secret[:-1] + ("A" if secret[-1] != "A" else "B"))
out["wrong_secret"] = code_of(lambda: wrong.list_buckets())
unknown = client(key_id="FTFSAAAAAAAAAAAAAAAA")
out["unknown_key"] = code_of(lambda: unknown.list_buckets())

s3.delete_object(Bucket="photos", Key="2026/cat.jpg")
batch = s3.delete_objects(
    Bucket="photos", Delete={"Objects": [{"Key": key} for key in [*keys, "never-was"]]}
)
out["delete_objects"] = sorted(d["Key"] for d in batch.get("Deleted", []))
out["delete_objects_errors"] = batch.get("Errors", [])
out["delete_missing"] = code_of(lambda: s3.delete_object(Bucket="photos", Key="never-was"))
out["after_deletes"] = s3.list_objects_v2(Bucket="photos").get("KeyCount")
s3.delete_bucket(Bucket="photos")
out["buckets_end"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
json.dump(out, sys.stdout)
