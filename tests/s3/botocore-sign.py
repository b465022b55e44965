"""Signs the requests the test names with botocore (Debian's python3-botocore), the signer
under boto3 and the AWS CLI, and prints each as JSON: what a gateway would receive."""
import json
import sys

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
credentials = Credentials(spec["accessKeyId"], spec["secret"])
out = []
for item in spec["requests"]:
    request = AWSRequest(
        method=item["method"],
        url=item["url"],
        data=item.get("body", "").encode(),
        headers=item.get("headers", {}),
    )
    if item.get("presignSeconds"):
        S3SigV4QueryAuth(credentials, "s3", spec["region"], expires=item["presignSeconds"]).add_auth(
            request
        )
    else:
        if item.get("unsignedPayload"):
            request.context["payload_signing_enabled"] = False
        S3SigV4Auth(credentials, "s3", spec["region"]).add_auth(request)
    prepared = request.prepare()
    out.append(
        {
            "method": prepared.method,
            "url": prepared.url,
            "headers": {name: value for name, value in prepared.headers.items()},
        }
    )
json.dump(out, sys.stdout)
