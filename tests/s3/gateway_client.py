"""What the boto3 scripts share: a client of the gateway the test started (S3_ENDPOINT,
S3_KEY_ID, S3_SECRET in the environment), and an error's S3 code."""
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(key_id=None, secret=None, attempts=3):
    """A path-style SigV4 client of the gateway, as alice unless told another key."""
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=key_id or os.environ["S3_KEY_ID"],
        aws_secret_access_key=secret or os.environ["S3_SECRET"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": attempts}),
    )


def code_of(call):
    """'ok', or the S3 error code the call got."""
    try:
        call()
        return "ok"
    except ClientError as error:
        return error.response["Error"]["Code"]
