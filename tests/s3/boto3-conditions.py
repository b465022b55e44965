"""Conditional requests with boto3 (Debian's python3-boto3) against the FTFS gateway: reads
with If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since; writes with
If-None-Match: * (create only) and If-Match (compare and swap), racing writers included;
copies with x-amz-copy-source-if-*. Every outcome is printed as one JSON document."""
import datetime
import json
import threading

from botocore.exceptions import ClientError
from gateway_client import client

s3 = client(attempts=1)
out = {}


def status_of(call):
    try:
        call()
        return 200
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return int(code) if code.isdigit() else code


def put_with(headers, key, body):
    """A PUT with extra headers (this boto3 predates its IfNoneMatch/IfMatch parameters),
    signed by a client of its own (so racing threads never share one's handlers)."""
    own = client(attempts=1)

    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    own.meta.events.register_first("before-sign.s3.PutObject", add)
    return own.put_object(Bucket="cond", Key=key, Body=body)


s3.create_bucket(Bucket="cond")
first = s3.put_object(Bucket="cond", Key="k", Body=b"one")
etag = first["ETag"]
modified = s3.head_object(Bucket="cond", Key="k")["LastModified"]
earlier = modified - datetime.timedelta(seconds=10)
later = modified + datetime.timedelta(seconds=10)
get = lambda **kw: lambda: s3.get_object(Bucket="cond", Key="k", **kw)["Body"].read()
out["reads"] = {
    "if_match": status_of(get(IfMatch=etag)),
    "if_match_other": status_of(get(IfMatch='"0000"')),
    "if_none_match": status_of(get(IfNoneMatch=etag)),
    "if_none_match_other": status_of(get(IfNoneMatch='"0000"')),
    "if_modified_since_earlier": status_of(get(IfModifiedSince=earlier)),
    "if_modified_since_later": status_of(get(IfModifiedSince=later)),
    "if_unmodified_since_earlier": status_of(get(IfUnmodifiedSince=earlier)),
    "if_unmodified_since_later": status_of(get(IfUnmodifiedSince=later)),
    "head_if_none_match": status_of(lambda: s3.head_object(Bucket="cond", Key="k", IfNoneMatch=etag)),
}

out["create_only"] = {
    "new_key": status_of(lambda: put_with({"If-None-Match": "*"}, "fresh", b"new")),
    "existing_key": status_of(lambda: put_with({"If-None-Match": "*"}, "k", b"clobber")),
}
out["compare_and_swap"] = {
    "stale_etag": status_of(lambda: put_with({"If-Match": '"0123456789abcdef0123456789abcdef"'}, "k", b"x")),
    "missing_key": status_of(lambda: put_with({"If-Match": etag}, "nothing-here", b"x")),
    "current_etag": status_of(lambda: put_with({"If-Match": etag}, "k", b"two")),
    "after": s3.get_object(Bucket="cond", Key="k")["Body"].read().decode(),
}

# Eight writers race to swap the same version: exactly one wins.
current = s3.head_object(Bucket="cond", Key="k")["ETag"]
results = []


def racer(n):
    results.append(status_of(lambda: put_with({"If-Match": current}, "k", b"racer %d" % n)))


threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
out["race"] = sorted(str(result) for result in results)
out["race_body"] = s3.get_object(Bucket="cond", Key="k")["Body"].read().decode().startswith("racer ")

copy = lambda **kw: lambda: s3.copy_object(Bucket="cond", Key="copy", CopySource={"Bucket": "cond", "Key": "k"}, **kw)
now_etag = s3.head_object(Bucket="cond", Key="k")["ETag"]
out["copies"] = {
    "if_match": status_of(copy(CopySourceIfMatch=now_etag)),
    "if_match_other": status_of(copy(CopySourceIfMatch='"0000"')),
    "if_none_match": status_of(copy(CopySourceIfNoneMatch=now_etag)),
    "if_unmodified_since_earlier": status_of(copy(CopySourceIfUnmodifiedSince=earlier)),
}


def complete_with(headers, upload_id, parts):
    """A CompleteMultipartUpload with extra headers, as put_with."""
    own = client(attempts=1)

    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    own.meta.events.register_first("before-sign.s3.CompleteMultipartUpload", add)
    return own.complete_multipart_upload(
        Bucket="cond", Key="mpu", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def open_upload(body):
    upload_id = s3.create_multipart_upload(Bucket="cond", Key="mpu")["UploadId"]
    part = s3.upload_part(Bucket="cond", Key="mpu", UploadId=upload_id, PartNumber=1, Body=body)
    return upload_id, [{"PartNumber": 1, "ETag": part["ETag"]}]


# A create-only completion sent twice (its first answer lost) succeeds twice, as S3's does;
# another upload's create-only completion of the same key then fails.
upload_id, parts = open_upload(b"first upload")
out["completion_retry"] = {
    "first": status_of(lambda: complete_with({"If-None-Match": "*"}, upload_id, parts)),
    "retry": status_of(lambda: complete_with({"If-None-Match": "*"}, upload_id, parts)),
}
other_id, other_parts = open_upload(b"second upload")
out["completion_retry"]["other_upload"] = status_of(
    lambda: complete_with({"If-None-Match": "*"}, other_id, other_parts)
)
out["completion_retry"]["body"] = s3.get_object(Bucket="cond", Key="mpu")["Body"].read().decode()
s3.abort_multipart_upload(Bucket="cond", Key="mpu", UploadId=other_id)
print(json.dumps(out))
