"""PUTs aws-chunked bodies the way the AWS SDKs stream them, signed by botocore (the seed
signature over the headers) with the chunk chain computed here by SigV4's rules: a signed body,
an unsigned body with a CRC32 trailer, a signed body with a signed CRC32 trailer, and three
that must be refused (a changed chunk, a wrong trailing checksum, a forged trailer signature). Prints each status and the objects read back, as JSON."""
import base64
import binascii
import datetime
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint = os.environ["S3_ENDPOINT"]
credentials = Credentials(os.environ["S3_KEY_ID"], os.environ["S3_SECRET"])
REGION = "us-east-1"
EMPTY = hashlib.sha256(b"").hexdigest()
CHUNK = 64 * 1024


def signing_key(date):
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def send(method, path, body, headers, payload_hash, chunker):
    request = AWSRequest(method=method, url=endpoint + path, headers=dict(headers))
    request.headers["X-Amz-Content-SHA256"] = payload_hash
    # The plain SigV4 signer keeps the payload hash given (S3's would put its own in).
    SigV4Auth(credentials, "s3", REGION).add_auth(request)
    seed = request.headers["Authorization"].split("Signature=")[1]
    amz_date = request.headers["X-Amz-Date"]
    data = chunker(body, seed, amz_date)
    prepared = urllib.request.Request(endpoint + path, data=data, method=method)
    for name, value in request.headers.items():
        prepared.add_header(name, value)
    prepared.add_header("Content-Length", str(len(data)))
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def signed_chunks(body, seed, amz_date, corrupt=False):
    date = amz_date[:8]
    scope = f"{date}/{REGION}/s3/aws4_request"
    key = signing_key(date)
    previous = seed
    out = b""
    pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] + [b""]
    for index, piece in enumerate(pieces):
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY, hashlib.sha256(piece).hexdigest()]
        )
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        sent = piece
        if corrupt and index == 1:
            sent = bytes([piece[0] ^ 1]) + piece[1:]
        out += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
    return out


def signed_trailer(body, seed, amz_date, trailer_signature=None):
    """Signed chunks, then a CRC32 trailer signed in the chain from the final chunk."""
    date = amz_date[:8]
    scope = f"{date}/{REGION}/s3/aws4_request"
    chunks = signed_chunks(body, seed, amz_date)
    final = chunks.rsplit(b"chunk-signature=", 1)[1][:64].decode()
    crc = base64.b64encode(binascii.crc32(body).to_bytes(4, "big")).decode()
    canonical = f"x-amz-checksum-crc32:{crc}\n"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, final, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = trailer_signature or hmac.new(signing_key(date), to_sign.encode(), hashlib.sha256).hexdigest()
    # The final chunk's CRLF gives way to the trailers.
    return (
        chunks[:-2]
        + f"x-amz-checksum-crc32:{crc}\r\nx-amz-trailer-signature:{signature}\r\n\r\n".encode()
    )


def unsigned_trailer(body, seed, amz_date, checksum=None):
    crc = checksum or base64.b64encode(binascii.crc32(body).to_bytes(4, "big")).decode()
    out = b""
    for i in range(0, len(body), CHUNK):
        piece = body[i : i + CHUNK]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()


def chunked_headers(body, trailer):
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(body)),
        "Content-Type": "application/x-test",
    }
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    return headers


body = os.urandom(3 * CHUNK + 123)
out = {}
out["signed"] = send(
    "PUT", "/ftfs/chunked/signed.bin", body, chunked_headers(body, False),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed_chunks,
)[0]
out["trailer"] = send(
    "PUT", "/ftfs/chunked/trailer.bin", body, chunked_headers(body, True),
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", unsigned_trailer,
)[0]
status, text = send(
    "PUT", "/ftfs/chunked/corrupt.bin", body, chunked_headers(body, False),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", lambda b, s, d: signed_chunks(b, s, d, corrupt=True),
)
out["corrupt"] = [status, "SignatureDoesNotMatch" in text]
status, text = send(
    "PUT", "/ftfs/chunked/badcrc.bin", body, chunked_headers(body, True),
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", lambda b, s, d: unsigned_trailer(b, s, d, "AAAAAA=="),
)
out["bad_checksum"] = [status, "BadDigest" in text]
out["signed_trailer"] = send(
    "PUT", "/ftfs/chunked/signed-trailer.bin", body, chunked_headers(body, True),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", signed_trailer,
)[0]
status, text = send(
    "PUT", "/ftfs/chunked/forged-trailer.bin", body, chunked_headers(body, True),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", lambda b, s, d: signed_trailer(b, s, d, "0" * 64),
)
out["forged_trailer"] = [status, "SignatureDoesNotMatch" in text]
out["sha256"] = hashlib.sha256(body).hexdigest()
json.dump(out, sys.stdout)
