"""Package signatures: Ed25519 over one digest of the manifest and every file it lists.

A package's own checksums only prove that its files match its manifest; whoever can write the manifest
can change the model, the classes or the golden vectors. A signature made with a key the device trusts
proves who built the package. Layout (beside manifest.json, not listed in it: it signs the manifest):

    signatures.json   {"format": "edgepack-signatures", "version": 1,
                       "signatures": [{"algorithm": "ed25519", "key_id": "...", "signature": "<base64>",
                                       "signed_at": "..."}, ...]}

The signed message is `signed_message(package)`: a text naming the scheme, the manifest's sha256 and,
in path order, the sha256 of every file the manifest lists, each computed from the bytes actually in
the package (so a file that no longer matches its manifest entry changes the message).

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public), readable by OpenSSL, `cryptography`
and Web Crypto alike. A key's id is the first 16 hex digits of the sha256 of its raw 32-byte public key.

Verification on the device needs the optional `signing` extra (`cryptography`): without a trust set
nothing is imported; with one and without the extra, loading refuses with the install command.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from .errors import PackageError, UsageError
from .package import MANIFEST, Package, listed_entries, sha256_bytes

SIGNATURES = "signatures.json"
SIGNATURES_FORMAT = "edgepack-signatures"
SCHEME = "edgepack-signed-package-v1"
ALGORITHM = "ed25519"
MAX_SIGNATURES_BYTES = 1 << 20  # a signatures file is a few hundred bytes per signature
INSTALL = 'pip install "edgepack[signing]"'


def listed_files(manifest: dict[str, Any]) -> list[str]:
    """Every file the manifest names (package.listed_entries), sorted, once each."""
    return sorted({str(e["file"]) for e in listed_entries(manifest)})


def signed_message(package: Package) -> bytes:
    """The bytes a signature covers (see the module docstring). Raises PackageError for a missing file."""
    lines = [SCHEME, f"{MANIFEST} {sha256_bytes(package.read_file(MANIFEST))}"]
    lines += [f"{name} {sha256_bytes(package.read_file(name))}" for name in listed_files(package.manifest)]
    return ("\n".join(lines) + "\n").encode()


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise UsageError("checking package signatures needs the `cryptography` library",
                         fix=f"install the signing extra on this device: {INSTALL}") from None
    return ed25519


def _serialization() -> Any:
    _ed25519()
    from cryptography.hazmat.primitives import serialization

    return serialization


def key_id(raw_public: bytes) -> str:
    return sha256_bytes(raw_public)[:16]


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    path: str
    public: Any  # cryptography's Ed25519PublicKey


@dataclass(frozen=True)
class TrustSet:
    """The public keys a device accepts signatures from."""

    keys: tuple[TrustedKey, ...]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustSet:
        """A public key file (PEM), or a directory whose `*.pub` / `*.pem` files are public keys.
        Raises UsageError when nothing usable is there."""
        location = os.fspath(path)
        if os.path.isdir(location):
            files = sorted(os.path.join(location, f) for f in os.listdir(location) if f.endswith((".pub", ".pem")))
        elif os.path.isfile(location):
            files = [location]
        else:
            raise UsageError(f"no trusted key at {location}", where=location,
                             fix="pass a public key file written by `edgepack keygen`, or a directory of them")
        keys = tuple(_public_key(f) for f in files)
        if not keys:
            raise UsageError(f"no public key (*.pub, *.pem) in {location}", where=location,
                             fix="copy the .pub file written by `edgepack keygen` into that directory")
        return cls(keys)

    def ids(self) -> list[str]:
        return [k.key_id for k in self.keys]


def _public_key(path: str) -> TrustedKey:
    serialization = _serialization()
    ed25519 = _ed25519()
    with open(path, "rb") as handle:
        data = handle.read(64 << 10)
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise UsageError(f"not a PEM public key: {exc}", where=path,
                         fix="pass the .pub file written by `edgepack keygen` (never the private key)") from None
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise UsageError("the key is not an Ed25519 public key", where=path, fix="make keys with `edgepack keygen`")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return TrustedKey(key_id(raw), path, public)


def read_signatures(package: Package) -> list[dict[str, Any]]:
    """The package's signature entries ([] when it has no signatures file). Raises PackageError when the
    file is malformed."""
    if SIGNATURES not in package.file_names():
        return []
    return parse_signatures(package.read_file(SIGNATURES), package.location)


def parse_signatures(raw: bytes, where: str) -> list[dict[str, Any]]:
    """The entries of a signatures document (a package's signatures.json, or a registry channel's
    .sig.json). Raises PackageError when it is malformed or oversized."""
    if len(raw) > MAX_SIGNATURES_BYTES:
        raise PackageError(f"signatures larger than {MAX_SIGNATURES_BYTES} bytes", where=where)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"signatures are not valid JSON: {exc}", where=where,
                           fix="sign again with `edgepack sign` (or promote again)") from None
    entries = data.get("signatures") if isinstance(data, dict) and data.get("format") == SIGNATURES_FORMAT else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PackageError("not an edgepack signatures document", where=where,
                           fix="sign again with `edgepack sign` (or promote again)")
    return entries


def verify_package(package: Package, trust: TrustSet) -> str:
    """The id of a trusted key whose signature over `signed_message(package)` is valid.
    Raises PackageError (exit 4) for an unsigned package, one signed only by keys not in `trust`, or a
    signature that does not verify (the package changed after signing)."""
    entries = read_signatures(package)
    if not entries:
        raise PackageError("the package is not signed, and this device accepts only signed packages",
                           where=package.location,
                           fix="sign it with `edgepack sign PKG --key KEY` using a key this device trusts")
    return verify_signed(signed_message(package), entries, trust, package.location)


def verify_signed(message: bytes, entries: list[dict[str, Any]], trust: TrustSet, where: str) -> str:
    """The id of a trusted key among `entries` whose Ed25519 signature over `message` is valid.
    Raises PackageError when no entry is by a trusted key, or none of those verifies."""
    trusted = {k.key_id: k for k in trust.keys}
    known = [e for e in entries if e.get("algorithm") == ALGORITHM and e.get("key_id") in trusted]
    if not known:
        ids = ", ".join(str(e.get("key_id")) for e in entries) or "nobody"
        raise PackageError(f"no signature by a trusted key (signed by: {ids}; trusted: {', '.join(trusted)})",
                           where=where, fix="sign it with a key this device trusts, or add the signer's .pub")
    invalid = _invalid_signature(_ed25519())
    for entry in known:
        try:
            signature = base64.b64decode(str(entry.get("signature", "")), validate=True)
            trusted[entry["key_id"]].public.verify(signature, message)
            return str(entry["key_id"])
        except (ValueError, invalid):
            continue
    raise PackageError("the signature does not match the signed contents: they changed after signing",
                       where=where, fix="do not use it; fetch it again from its publisher")


def _invalid_signature(_module: Any) -> type[Exception]:
    from cryptography.exceptions import InvalidSignature

    return InvalidSignature
