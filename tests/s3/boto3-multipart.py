"""Multipart uploads with boto3 (Debian's python3-boto3) against the FTFS gateway: by hand
(create, parts, a part uploaded again, list, complete, errors, abort, copy of a range) and by
boto3's own managed transfer; every outcome is printed as one JSON document for the test."""
import hashlib
import io
import json
import os

from boto3.s3.transfer import TransferConfig
from gateway_client import client, code_of

MIB = 1024 * 1024
s3 = client()
out = {}


def etag_of(parts):
    joined = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    return '"%s-%d"' % (joined, len(parts))


s3.create_bucket(Bucket="mpu")
upload = s3.create_multipart_upload(
    Bucket="mpu", Key="videos/big.bin", ContentType="video/mp4", Metadata={"camera": "left"}
)["UploadId"]
one = os.urandom(5 * MIB)
two_first = os.urandom(5 * MIB + 3)
two = os.urandom(5 * MIB + 7)
three = os.urandom(1000)
etags = {}
etags[1] = s3.upload_part(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumber=1, Body=one)["ETag"]
s3.upload_part(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumber=2, Body=two_first)
etags[2] = s3.upload_part(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumber=2, Body=two)["ETag"]
etags[3] = s3.upload_part(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumber=3, Body=three)["ETag"]
out["part_etags_are_md5s"] = [etags[1], etags[2], etags[3]] == [
    '"%s"' % hashlib.md5(part).hexdigest() for part in (one, two, three)
]
listed = s3.list_parts(Bucket="mpu", Key="videos/big.bin", UploadId=upload)
out["parts"] = [[p["PartNumber"], p["Size"], p["ETag"] == etags[p["PartNumber"]]] for p in listed["Parts"]]
paged = s3.list_parts(Bucket="mpu", Key="videos/big.bin", UploadId=upload, MaxParts=2)
out["parts_paged"] = [paged["IsTruncated"], paged["NextPartNumberMarker"], len(paged["Parts"])]
rest = s3.list_parts(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumberMarker=2)
out["parts_rest"] = [p["PartNumber"] for p in rest["Parts"]]
uploads = s3.list_multipart_uploads(Bucket="mpu")
out["uploads"] = [[u["Key"], u["UploadId"] == upload] for u in uploads.get("Uploads", [])]
out["part_to_other_key"] = code_of(
    lambda: s3.upload_part(Bucket="mpu", Key="videos/other.bin", UploadId=upload, PartNumber=4, Body=b"x")
)
out["objects_while_open"] = s3.list_objects_v2(Bucket="mpu").get("KeyCount")
out["rb_while_open"] = code_of(lambda: s3.delete_bucket(Bucket="mpu"))

parts = lambda numbers: {"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in numbers]}
out["wrong_etag"] = code_of(
    lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="videos/big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"%s"' % hashlib.md5(b"x").hexdigest()}]},
    )
)
out["wrong_order"] = code_of(
    lambda: s3.complete_multipart_upload(Bucket="mpu", Key="videos/big.bin", UploadId=upload, MultipartUpload=parts([2, 1]))
)
out["too_small"] = code_of(
    lambda: s3.complete_multipart_upload(Bucket="mpu", Key="videos/big.bin", UploadId=upload, MultipartUpload=parts([3, 2]))
)
out["other_key"] = code_of(
    lambda: s3.complete_multipart_upload(Bucket="mpu", Key="videos/other.bin", UploadId=upload, MultipartUpload=parts([1, 2, 3]))
)
done = s3.complete_multipart_upload(Bucket="mpu", Key="videos/big.bin", UploadId=upload, MultipartUpload=parts([1, 2, 3]))
out["complete_etag"] = done["ETag"] == etag_of([one, two, three])
whole = one + two + three
got = s3.get_object(Bucket="mpu", Key="videos/big.bin")
out["get"] = {
    "same": hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(whole).hexdigest(),
    "etag": got["ETag"] == done["ETag"],
    "type": got["ContentType"],
    "meta": got["Metadata"],
    "length": got["ContentLength"],
}
start = 5 * MIB - 10
ranged = s3.get_object(Bucket="mpu", Key="videos/big.bin", Range="bytes=%d-%d" % (start, start + 19))["Body"].read()
out["range_across_parts"] = ranged == whole[start : start + 20]
listing = s3.list_objects_v2(Bucket="mpu")["Contents"]
out["listed"] = [[o["Key"], o["Size"], o["ETag"] == done["ETag"]] for o in listing]
out["uploads_after"] = len(s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []))
out["part_after_complete"] = code_of(
    lambda: s3.upload_part(Bucket="mpu", Key="videos/big.bin", UploadId=upload, PartNumber=4, Body=b"late")
)
out["unknown_upload"] = code_of(
    lambda: s3.upload_part(Bucket="mpu", Key="k", UploadId="d0.nope", PartNumber=1, Body=b"x")
)
out["abort_unknown"] = code_of(lambda: s3.abort_multipart_upload(Bucket="mpu", Key="k", UploadId="d0.nope"))

# A part copied from a range of another object, then a part of new bytes.
copy_upload = s3.create_multipart_upload(Bucket="mpu", Key="copied.bin")["UploadId"]
copied = s3.upload_part_copy(
    Bucket="mpu", Key="copied.bin", UploadId=copy_upload, PartNumber=1,
    CopySource={"Bucket": "mpu", "Key": "videos/big.bin"}, CopySourceRange="bytes=1000-%d" % (1000 + 5 * MIB - 1),
)["CopyPartResult"]["ETag"]
tail = os.urandom(123)
tail_etag = s3.upload_part(Bucket="mpu", Key="copied.bin", UploadId=copy_upload, PartNumber=2, Body=tail)["ETag"]
s3.complete_multipart_upload(
    Bucket="mpu", Key="copied.bin", UploadId=copy_upload,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": copied}, {"PartNumber": 2, "ETag": tail_etag}]},
)
copied_body = s3.get_object(Bucket="mpu", Key="copied.bin")["Body"].read()
out["part_copy"] = copied_body == whole[1000 : 1000 + 5 * MIB] + tail

# An upload aborted: its parts go, it is no longer listed.
dropped = s3.create_multipart_upload(Bucket="mpu", Key="dropped.bin")["UploadId"]
s3.upload_part(Bucket="mpu", Key="dropped.bin", UploadId=dropped, PartNumber=1, Body=b"gone")
s3.abort_multipart_upload(Bucket="mpu", Key="dropped.bin", UploadId=dropped)
out["after_abort"] = [
    len(s3.list_multipart_uploads(Bucket="mpu").get("Uploads", [])),
    code_of(lambda: s3.list_parts(Bucket="mpu", Key="dropped.bin", UploadId=dropped)),
    code_of(lambda: s3.head_object(Bucket="mpu", Key="dropped.bin")),
]

# boto3's managed transfer: parts in parallel threads, then read back by its own download.
managed = os.urandom(17 * MIB + 5)
config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
s3.upload_fileobj(io.BytesIO(managed), "mpu", "managed.bin", Config=config)
back = io.BytesIO()
s3.download_fileobj("mpu", "managed.bin", back, Config=config)
out["managed"] = {
    "same": back.getvalue() == managed,
    "etag": s3.head_object(Bucket="mpu", Key="managed.bin")["ETag"]
    == etag_of([managed[i : i + 5 * MIB] for i in range(0, len(managed), 5 * MIB)]),
}

# Into the home bucket, for ftfs to read: the whole object's SHA-256 goes to the test.
home = s3.create_multipart_upload(Bucket="ftfs", Key="joined.bin")["UploadId"]
home_parts = [os.urandom(5 * MIB), os.urandom(777)]
home_etags = [
    s3.upload_part(Bucket="ftfs", Key="joined.bin", UploadId=home, PartNumber=n + 1, Body=part)["ETag"]
    for n, part in enumerate(home_parts)
]
s3.complete_multipart_upload(
    Bucket="ftfs", Key="joined.bin", UploadId=home,
    MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(home_etags)]},
)
out["home_sha256"] = hashlib.sha256(b"".join(home_parts)).hexdigest()
print(json.dumps(out))
