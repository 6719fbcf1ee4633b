"""S3 error codes mapped to regstore errors, by table, with messages that say what to fix.

Driver code raises SDK exceptions as they come; the driver's ``translate``
hook (``to_contract_error``) turns them into regstore errors whose ``__cause__``
is the SDK's exception, wherever the wrapper meets them. Messages name the
bucket, the path and the missing permission, never a credential.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from regstore.errors import DriverError, PathNotFoundError

__all__ = ["DENIED", "NOT_FOUND", "error_code", "missing", "to_contract_error"]

#: The IAM permission each S3 operation the driver calls needs.
PERMISSIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CopyObject": "s3:GetObject on the source and s3:PutObject on the destination",
    "UploadPartCopy": "s3:GetObject on the source and s3:PutObject on the destination",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListObjectsV2": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
}

#: Codes meaning "this key does not exist" (HEAD answers carry only the status).
NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
#: Codes meaning "the credentials may not do this".
DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
#: Codes about the credentials themselves, with what to check. The server's own
#: message is left out: it may echo the access key or the string that was signed.
CREDENTIALS = {
    "InvalidAccessKeyId": "the server does not know the access key",
    "SignatureDoesNotMatch": "the request signature does not match (wrong secret key?)",
    "ExpiredToken": "the session token has expired",
    "TokenRefreshRequired": "the session token has expired",
    "InvalidToken": "the session token is malformed or invalid",
    "InvalidSecurity": "the security credentials are invalid",
}
CREDENTIALS_HINT = (
    "; check the accesskey, secretkey and sessiontoken parameters, or the AWS SDK's"
    " default credential chain (environment, shared config, instance or task role)"
)
#: Other codes worth a sentence of their own.
EXPLAINED = {
    "NoSuchUpload": "the multipart upload no longer exists (aborted, completed elsewhere,"
    " or expired by a lifecycle rule)",
    "SlowDown": "the server is throttling requests (SlowDown) and retries did not get through",
    "ServiceUnavailable": "the server is unavailable and retries did not get through",
    "EntityTooSmall": "a part of the multipart upload is smaller than the 5 MiB S3 requires",
    "EntityTooLarge": "the object or part is larger than S3 allows (5 GiB per request)",
    "InvalidPart": "a part of the multipart upload is missing or its ETag does not match",
    "KMS.NotFoundException": "the KMS key given as keyid does not exist",
    "PreconditionFailed": "the source object changed while it was being copied",
}


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ``ClientError`` (the HTTP status for bodiless answers), or ""."""
    if not isinstance(exc, ClientError):
        return ""
    error = exc.response.get("Error", {})
    code = error.get("Code")
    if code:
        return str(code)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(status or "")


def missing(exc: BaseException) -> bool:
    """True for an SDK error saying the key (or the upload) asked for does not exist."""
    return error_code(exc) in NOT_FOUND


def to_contract_error(exc: BaseException, *, bucket: str, path: str | None) -> Exception | None:
    """The regstore error for an SDK exception raised while working on ``path``; None if not one.

    The driver's ``translate`` hook: messages name the S3 operation, the bucket
    and the permission or setting to fix, never a credential or the server's text
    about credentials.
    """
    subject = f" of {path}" if path else ""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        operation = exc.operation_name
        doing = f"{operation}{subject}"
        if code == "NoSuchBucket":
            return DriverError(
                f"{doing} failed: bucket {bucket!r} does not exist (create it first, or check"
                " the bucket, region and regionendpoint parameters)"
            )
        if code in NOT_FOUND and path is not None:
            return PathNotFoundError(path)
        if code in DENIED:
            permission = PERMISSIONS.get(operation, f"the permission for {operation}")
            return DriverError(
                f"{doing} failed: access denied; the credentials need {permission}"
                f" on bucket {bucket!r}"
            )
        if code in CREDENTIALS:
            return DriverError(f"{doing} failed: {CREDENTIALS[code]}{CREDENTIALS_HINT}")
        if code in EXPLAINED:
            return DriverError(f"{doing} failed: {EXPLAINED[code]}")
        message = exc.response.get("Error", {}).get("Message") or "no message"
        return DriverError(f"{doing} failed: {code}: {message}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return DriverError(f"no usable AWS credentials{subject}{CREDENTIALS_HINT}")
    if isinstance(exc, EndpointConnectionError):
        return DriverError(f"cannot reach the S3 endpoint{subject}: {exc}")
    if isinstance(exc, BotoCoreError):
        return DriverError(f"S3 request{subject} failed: {exc}")
    return None
