"""A copy of each backup off the server, in an S3-compatible bucket.

Any S3-compatible store will do (Amazon S3, Scaleway, OVHcloud, Wasabi, MinIO
at the town's IT provider): ``BACKUP_S3_BUCKET``, optionally
``BACKUP_S3_ENDPOINT_URL`` for a store that is not Amazon's and
``BACKUP_S3_PREFIX`` for a folder in the bucket. The keys come from boto3's
own environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``), never from a file in the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_PREFIX = "lokaal-sparen/"


def configured(config: Mapping[str, Any]) -> bool:
    return bool(config.get("BACKUP_S3_BUCKET"))


def _client(config: Mapping[str, Any]) -> Any:
    import boto3  # only where off-site copies are made

    return boto3.client("s3", endpoint_url=config.get("BACKUP_S3_ENDPOINT_URL") or None)


def _prefix(config: Mapping[str, Any]) -> str:
    return str(config.get("BACKUP_S3_PREFIX") or DEFAULT_PREFIX)


def upload(config: Mapping[str, Any], path: Path) -> str:
    """Copy ``path`` into the bucket; returns its key there. Raises boto3's errors."""
    key = _prefix(config) + path.name
    _client(config).upload_file(str(path), config["BACKUP_S3_BUCKET"], key)
    return key


def names(config: Mapping[str, Any]) -> list[str]:
    """The file names of the copies in the bucket."""
    client = _client(config)
    prefix = _prefix(config)
    found: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=config["BACKUP_S3_BUCKET"], Prefix=prefix
    )
    for page in pages:
        found += [item["Key"][len(prefix):] for item in page.get("Contents", [])]
    return found


def delete(config: Mapping[str, Any], file_names: Iterable[str]) -> None:
    """Delete these copies (the rotation dropped them locally too)."""
    client = _client(config)
    for name in file_names:
        client.delete_object(Bucket=config["BACKUP_S3_BUCKET"], Key=_prefix(config) + name)
