"""S3 versioning with boto3 (Debian's python3-boto3) against the FTFS gateway: the bucket's
state read and set; versions written, listed (whole and in pages, by boto3's paginator too),
read and copied by id; a delete that leaves a marker; the marker read (405) and deleted to
bring the object back; one version deleted by id; a bucket with versions left refused;
DeleteObjects by version; suspension; the home bucket refused. Every outcome is printed as
one JSON document."""
import json

from gateway_client import client, code_of

s3 = client(attempts=1)
out = {}
B = "vers"


def versions_of(**kw):
    listed = s3.list_object_versions(Bucket=B, **kw)
    shown = [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in listed.get("Versions", [])]
    markers = [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed.get("DeleteMarkers", [])]
    return shown, markers


def body(key, **kw):
    return s3.get_object(Bucket=B, Key=key, **kw)["Body"].read().decode()


s3.create_bucket(Bucket=B)
out["status_before"] = s3.get_bucket_versioning(Bucket=B).get("Status")
s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
out["status_enabled"] = s3.get_bucket_versioning(Bucket=B).get("Status")

ids = [s3.put_object(Bucket=B, Key="k", Body=text.encode())["VersionId"] for text in ["one", "two", "three"]]
out["ids_distinct"] = len(set(ids)) == 3
out["versions"], out["markers"] = versions_of()
out["ids_listed"] = [v[1] for v in out["versions"]] == list(reversed(ids))
out["read_v1"] = body("k", VersionId=ids[0])
out["head_v2"] = s3.head_object(Bucket=B, Key="k", VersionId=ids[1])["ContentLength"]
out["get_version_header"] = s3.get_object(Bucket=B, Key="k")["VersionId"] == ids[2]

deleted = s3.delete_object(Bucket=B, Key="k")
marker = deleted["VersionId"]
out["delete"] = {"marker": deleted.get("DeleteMarker"), "new_id": marker not in ids}
out["read_deleted"] = code_of(lambda: body("k"))
out["listed_deleted"] = s3.list_objects_v2(Bucket=B).get("KeyCount")
out["versions_after_delete"], out["markers_after_delete"] = versions_of()
out["read_marker"] = code_of(lambda: body("k", VersionId=marker))
out["read_missing_version"] = code_of(lambda: body("k", VersionId="99999"))
out["read_bad_version"] = code_of(lambda: body("k", VersionId="not-a-version"))
out["read_old_after_delete"] = body("k", VersionId=ids[1])

undone = s3.delete_object(Bucket=B, Key="k", VersionId=marker)
out["undelete"] = {"marker": undone.get("DeleteMarker"), "id": undone.get("VersionId") == marker}
out["read_after_undelete"] = body("k")

copied = s3.copy_object(Bucket=B, Key="k-copy", CopySource={"Bucket": B, "Key": "k", "VersionId": ids[0]})
out["copy"] = {"source_id": copied.get("CopySourceVersionId") == ids[0], "body": body("k-copy")}

s3.delete_object(Bucket=B, Key="k", VersionId=ids[2])
out["read_after_deleting_latest"] = body("k")
out["versions_after_deleting_latest"], _ = versions_of()

# Pages of one version each, by hand and by boto3's paginator.
paged, marker_args = [], {}
while True:
    page = s3.list_object_versions(Bucket=B, MaxKeys=1, **marker_args)
    paged += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    if not page["IsTruncated"]:
        break
    marker_args = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
out["paged"] = paged
out["paginated"] = [
    (v["Key"], v["VersionId"])
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=B, PaginationConfig={"PageSize": 2})
    for v in page.get("Versions", [])
]
out["after_key_marker"] = [v[0] for v in versions_of(KeyMarker="k")[0]]

s3.delete_object(Bucket=B, Key="k-copy")
out["bucket_with_versions"] = code_of(lambda: s3.delete_bucket(Bucket=B))

s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Suspended"})
out["status_suspended"] = s3.get_bucket_versioning(Bucket=B).get("Status")
out["suspended_delete_marker"] = s3.delete_object(Bucket=B, Key="k").get("DeleteMarker")

everything = s3.list_object_versions(Bucket=B)
doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in everything.get("Versions", []) + everything.get("DeleteMarkers", [])]
result = s3.delete_objects(Bucket=B, Delete={"Objects": doomed})
out["delete_objects"] = {
    "deleted": len(result.get("Deleted", [])),
    "named": len(doomed),
    "errors": result.get("Errors", []),
    "markers": sum(1 for d in result.get("Deleted", []) if d.get("DeleteMarker")),
}
out["left"] = versions_of()
out["bucket_emptied"] = code_of(lambda: s3.delete_bucket(Bucket=B))
out["home_bucket"] = code_of(
    lambda: s3.put_bucket_versioning(Bucket="ftfs", VersioningConfiguration={"Status": "Enabled"})
)
print(json.dumps(out))
