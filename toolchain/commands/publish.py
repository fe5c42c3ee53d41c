"""Publish a package to a registry: a directory (or any fsspec location: s3://, gs://...) that devices
and web pages read with nothing but file access or HTTP, plus a SQL catalog of record (SQLite beside a
local registry by default; --catalog for a shared PostgreSQL). Versions are immutable and
content-addressed; publishing the same package again changes nothing.

examples:
  edgepack publish build/churn/package /srv/registry
  edgepack publish build/churn/package /srv/registry --promote staging --key keys/release
  edgepack publish churn.edgepack s3://models/registry --catalog postgresql+psycopg://ci@db/edgepack
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...runtime.errors import EXIT_OK, UsageError
from ...runtime.table import render_table
from ..registry.registry import Registry


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("registry", help="registry directory or fsspec URL")
    p.add_argument("--catalog", metavar="URL", help="SQLAlchemy URL of the catalog (default: sqlite beside a local registry)")
    p.add_argument("--promote", metavar="CHANNEL", help="also point CHANNEL (e.g. staging) at the published version")
    p.add_argument("--key", type=Path, help="private key that signs the channel pointer (with --promote)")
    p.add_argument("--by", metavar="NAME", help="who publishes (default: $EDGEPACK_ACTOR or the login name)")


def run(args: argparse.Namespace) -> int:
    if args.promote and not args.key:
        raise UsageError("--promote needs --key: devices accept only signed channel pointers",
                         fix="add --key KEY (from edgepack keygen)")
    registry = Registry(args.registry, args.catalog)
    row = registry.publish(args.package, args.by)
    print(render_table(["model", "version", "sha256", "size", "parity", "status"],
                       [[row["model"], row["version"], row["sha256"][:12], row["size"],
                         {True: "pass", False: "FAIL", None: "not run"}[row["parity_passed"]], row["status"]]]))
    if args.promote:
        pointer = registry.promote(row["model"], row["version"], args.promote, args.key, args.by)
        print(f"{args.promote} -> {pointer['model']} {pointer['version']} (was {pointer['previous'] or 'nothing'})")
    return EXIT_OK
