"""Keys and signatures on the toolchain side: `edgepack keygen` and `edgepack sign` (runtime/signing.py
holds the format and the device's verification)."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..runtime.errors import PackageError, UsageError
from ..runtime.package import Package
from ..runtime.signing import (
    ALGORITHM,
    SIGNATURES,
    SIGNATURES_FORMAT,
    key_id,
    read_signatures,
    signed_message,
)


def generate_key(out: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: `out` (private, PKCS#8 PEM, readable by its owner only) and
    `out.pub` (public, SubjectPublicKeyInfo PEM). Raises UsageError when either file exists."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public_path = out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists():
            raise UsageError(f"{path} already exists; edgepack never overwrites a key", where=str(path),
                             fix="choose another name, or move the old key away first")
    out.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(public_path, "xb") as handle:
        handle.write(public)
    return out, public_path


def _private_key(path: Path) -> object:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise UsageError(f"no key at {path}", where=str(path), fix="make one with `edgepack keygen`") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not an unencrypted PEM private key: {exc}", where=str(path),
                         fix="pass the private key written by `edgepack keygen` (not the .pub)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError("the key is not an Ed25519 private key", where=str(path), fix="make keys with `edgepack keygen`")
    return key


def signature_entry(key: Any, message: bytes) -> dict[str, Any]:
    """One entry of a signatures document: `key` (an Ed25519 private key) over `message`."""
    from cryptography.hazmat.primitives import serialization

    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"algorithm": ALGORITHM, "key_id": key_id(raw_public),
            "signature": base64.b64encode(key.sign(message)).decode(),
            "signed_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()}


def signatures_document(entries: list[dict[str, Any]]) -> bytes:
    return (json.dumps({"format": SIGNATURES_FORMAT, "version": 1, "signatures": entries}, indent=2) + "\n").encode()


def load_private_key(path: Path) -> Any:
    """An Ed25519 private key from a PEM file. Raises UsageError."""
    return _private_key(path)


def sign_package(path: Path, key_path: Path) -> str:
    """Add (or renew) this key's signature in the package's signatures.json; other signatures stay.
    Every listed file is checked against the manifest first: a package that does not match its own
    manifest is never signed. Returns the key id. Raises PackageError / UsageError."""
    key = _private_key(key_path)
    package = Package.open(path)
    package.verify()  # every listed file against its sha256 and size, all inside the package
    entry = signature_entry(key, signed_message(package))
    entries = [e for e in read_signatures(package) if e.get("key_id") != entry["key_id"]] + [entry]
    data = signatures_document(entries)
    _write_beside_manifest(Path(package.location), data)
    return str(entry["key_id"])


def _write_beside_manifest(location: Path, data: bytes) -> None:
    """signatures.json into a package directory, or into a .edgepack file (rewritten whole, then renamed
    over the original, so an interrupted signing leaves the package as it was)."""
    if location.is_dir():
        tmp = location / f".{SIGNATURES}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, location / SIGNATURES)
        return
    tmp = location.with_name(f".{location.name}.signing")
    try:
        with zipfile.ZipFile(location) as src, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                if info.filename != SIGNATURES:
                    dst.writestr(info, src.read(info))
            dst.writestr(SIGNATURES, data)
        os.replace(tmp, location)
    except (OSError, zipfile.BadZipFile) as exc:
        tmp.unlink(missing_ok=True)
        raise PackageError(f"cannot write the signature into {location.name}: {exc}", where=str(location)) from exc
