"""Read and govern a registry: list versions and the channels serving them, show a model's or a version's
record and history, promote a version to a channel (a signed pointer devices follow), retire a version.
Every action is written to the catalog's audit log with who did it and when.

examples:
  edgepack registry list /srv/registry
  edgepack registry show /srv/registry churn 3
  edgepack registry promote /srv/registry churn 3 --channel production --key keys/release --note "CAB-142"
  edgepack registry retire /srv/registry churn 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ...runtime.errors import EXIT_OK
from ...runtime.table import render_table
from ..registry.registry import Registry


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a = sub.add_parser(name, help=help_text)
        a.add_argument("registry", help="registry directory or fsspec URL")
        a.add_argument("--catalog", metavar="URL", help="SQLAlchemy URL of the catalog (default: sqlite beside it)")
        return a

    listing = action("list", "versions and the channels serving them")
    listing.add_argument("model", nargs="?", help="only this model")
    show = action("show", "a model's channels and history, or one version's record")
    show.add_argument("model")
    show.add_argument("version", nargs="?")
    show.add_argument("--json", action="store_true", help="the whole record as JSON")
    promote = action("promote", "point a channel at a version (signed pointer)")
    promote.add_argument("model")
    promote.add_argument("version")
    promote.add_argument("--channel", required=True, help="e.g. staging, production")
    promote.add_argument("--key", type=Path, required=True, help="private key that signs the pointer")
    promote.add_argument("--note", default="", help="why (a ticket, an approval)")
    promote.add_argument("--shadow", type=int, default=0, metavar="N",
                         help="devices score N records with both versions and switch only if they agree")
    promote.add_argument("--by", metavar="NAME", help="who promotes (default: $EDGEPACK_ACTOR or the login name)")
    retire = action("retire", "never promote a version again")
    retire.add_argument("model")
    retire.add_argument("version")
    retire.add_argument("--note", default="")
    retire.add_argument("--by", metavar="NAME")


def _parity(row: dict[str, Any]) -> str:
    return {True: "pass", False: "FAIL", None: "not run"}[row["parity_passed"]]


def run(args: argparse.Namespace) -> int:
    registry = Registry(args.registry, args.catalog)
    if args.action == "list":
        rows = registry.list(args.model)
        print(render_table(["model", "version", "channels", "parity", "signed by", "published", "by", "retired"],
                           [[r["model"], r["version"], ",".join(r["channels"]) or "-", _parity(r),
                             ",".join(r["summary"]["signed_by"]) or "-", r["published_at"], r["published_by"],
                             r["retired_at"] or "-"] for r in rows]))
    elif args.action == "show":
        record = registry.show(args.model, args.version)
        if args.json:
            print(json.dumps(record, indent=2, default=str))
            return EXIT_OK
        if args.version is None:
            print(render_table(["channel", "version", "promoted", "by"],
                               [[c, s["version"], s["promoted_at"], s["promoted_by"]] for c, s in record["channels"].items()]))
        else:
            print(f"{record['model']} {record['version']}  sha256 {record['sha256']}  {record['size']} bytes")
            print(f"channels: {', '.join(record['channels']) or '-'}   parity: {_parity(record)}")
            parity = record["summary"]["parity"]
            if parity:
                print(render_table(["artifact", "runtime", "data", "result"],
                                   [[p["artifact"], p["runtime"], p["data"], "pass" if p["passed"] else "FAIL"] for p in parity]))
        print()
        print(render_table(["when", "who", "action", "version", "channel", "detail"],
                           [[h["at"], h["actor"], h["action"], h["version"] or "-", h["channel"] or "-",
                             json.dumps(h["detail"])] for h in record["history"]]))
    elif args.action == "promote":
        pointer = registry.promote(args.model, args.version, args.channel, args.key, args.by, args.note, args.shadow)
        print(f"{args.channel} -> {pointer['model']} {pointer['version']} (was {pointer['previous'] or 'nothing'})")
    else:
        registry.retire(args.model, args.version, args.by, args.note)
        print(f"retired {args.model} {args.version}")
    return EXIT_OK
