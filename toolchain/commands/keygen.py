"""Make an Ed25519 key pair for signing packages: KEY (private, keep it secret) and KEY.pub (give it to
devices, which accept only packages signed by the keys they trust). Existing files are never overwritten.

example:
  edgepack keygen keys/release
  edgepack sign build/churn/package --key keys/release
  edgepack-score build/churn/package --trust keys/release.pub < records.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...runtime.errors import EXIT_OK
from ..signing import generate_key


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", type=Path, help="path of the private key to write; the public key goes to KEY.pub")


def run(args: argparse.Namespace) -> int:
    private, public = generate_key(args.key)
    print(f"private key: {private}  (keep it secret: whoever has it can sign packages)")
    print(f"public key:  {public}  (copy it to the devices: edgepack-score --trust {public.name})")
    return EXIT_OK
