"""Content-addressed file store: files are recognised by their bytes and kept once per SHA-256.

Uploads are streamed to a temporary file in the store's own folder while hashing, so a large upload never
sits in memory and the final rename is atomic on the same filesystem.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

CHUNK = 1024 * 1024

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
"""Control (NUL, escapes), format (bidi overrides, zero-width) and unpaired surrogate characters."""


class RejectedFile(ValueError):
    """The file is refused; the message says why in terms the uploader can act on."""


def clean_filename(name: str, fallback: str = "upload") -> str:
    """The name kept for an uploaded file: its last path part (either slash), without the characters that
    cannot be stored (NUL) or that disguise a name on screen (bidi overrides), NFC, at most 255 characters."""
    base = re.split(r"[/\\]", name)[-1]
    kept = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch) not in UNSAFE_CATEGORIES)
    return kept.strip()[:255] or fallback


def sniff(head: bytes) -> str | None:
    """The content type the bytes really are, whatever the file name claims."""
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size_bytes: int
    content_type: str
    created: bool = False
    """These bytes were new to the store: a refused upload removes them again (see `discard`)."""


class BlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, stream: BinaryIO, max_bytes: int, sniffer: Callable[[bytes], str | None] = sniff,
                   limit_message: str | None = None) -> StoredFile:
        """Store the stream if `sniffer` recognises its first bytes (by default: PDF, PNG or JPEG) and it is
        within the size limit; identical bytes are kept once."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        content_type: str | None = None
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    if content_type is None:
                        content_type = sniffer(chunk[:16])
                        if content_type is None:
                            raise RejectedFile("the file is not a PDF, PNG or JPEG (checked by its content, not its name)")
                    size += len(chunk)
                    if size > max_bytes:
                        raise RejectedFile(limit_message or
                                           f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0 or content_type is None:
                raise RejectedFile("the file is empty")
            sha = digest.hexdigest()
            target = self.path_for(sha)
            created = not target.exists()
            if created:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_name, target)
            else:
                os.unlink(temp_name)
            return StoredFile(sha256=sha, size_bytes=size, content_type=content_type, created=created)
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise

    def put_bytes(self, data: bytes, max_bytes: int) -> StoredFile:
        return self.put_stream(io.BytesIO(data), max_bytes)

    def discard(self, sha256: str) -> None:
        """Remove stored bytes that nothing refers to (the caller checked)."""
        self.path_for(sha256).unlink(missing_ok=True)
