"""Sign a package with an Ed25519 key from `edgepack keygen`: a signature over the manifest and every file
it lists, stored in signatures.json beside the manifest. Several keys may sign one package; signing
again with the same key renews its signature. Sign last: `edgepack parity --record` rewrites the
manifest, which invalidates earlier signatures.

example:
  edgepack sign build/churn/package --key keys/release
  edgepack sign churn.edgepack --key keys/release
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...runtime.errors import EXIT_OK
from ..signing import sign_package


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("--key", type=Path, required=True, help="private key file written by `edgepack keygen`")


def run(args: argparse.Namespace) -> int:
    ident = sign_package(args.package, args.key)
    print(f"signed {args.package} with key {ident}")
    return EXIT_OK
