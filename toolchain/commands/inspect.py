"""Print a readable summary of an edge package: model, inputs, outputs, artifacts and parity.

Before printing anything it checks the package the way a device does: the manifest's shape, and every
listed file (each artifact, its parts, the golden vectors) against its sha256 and size, inside the
package (a symlink out of it is refused). A package that fails exits 4 with the reason.

example:
  edgepack inspect build/churn/package
  edgepack inspect build/churn/churn.edgepack --json
  edgepack inspect --variants build/mlp --html build/mlp-variants.html
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...runtime.errors import EXIT_OK, PackageError, UsageError, quoted
from ...runtime.manifest import artifact_size
from ...runtime.package import Package, listed_entries
from ...runtime.profile import load_profile
from ...runtime.signing import TrustSet, read_signatures, verify_package
from ...runtime.table import render_table
from ..variants.report import render_variants, variants_html


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON instead")
    p.add_argument("--trust", metavar="KEY.pub|DIR", help="also check the package's signature against these public "
                   "keys (exit 4 when no trusted key signed it)")
    p.add_argument("--variants", action="store_true",
                   help="per format and variant: size, size relative to float32, agreement, error, latency, and "
                        "why the build dropped the others (see edgepack build --quantize)")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="with --variants: also write a self-contained HTML page with a plot of size against error")


def summary(package: Package) -> str:
    m = package.manifest
    src = m["source"]
    lines = [
        f"{m['model']['name']} {m['model']['version']}  ({m['model']['task']}, created {m['model']['created']})",
        f"source: {src['framework']} {src['framework_version']}  {src.get('summary', src['estimator'])}",
    ]
    if m["outputs"].get("classes"):
        lines.append(f"classes: {', '.join(map(str, m['outputs']['classes']))}")
    lines.append("")
    rows = []
    if "tensors" in m["inputs"]:  # format version 2: named tensors
        for t in m["inputs"]["tensors"]:
            shape = "[" + ", ".join("N" if d is None else str(d) for d in t["shape"]) + "]"
            image = t.get("image")
            prep = (f"{image['channels']} {image['size'][0]}x{image['size'][1]}, x*{image['scale']:.6g}, "
                    f"mean {image['mean']}, std {image['std']}") if image else "-"
            rows.append([t["name"], t["dtype"], shape, t.get("layout", "-"), prep])
        lines.append(render_table(["input", "dtype", "shape", "layout", "image preprocessing"], rows, title="inputs"))
    for f in m["inputs"].get("features", []):
        if f["type"] == "category":
            cats = f["categories"]
            shown = ", ".join(cats[:4]) + (f", ... ({len(cats)})" if len(cats) > 4 else "")
            rng = f"{shown}; unknown: {f['unknown']}"
        elif f["type"] == "text":
            rng = "any text (words outside the vocabulary count for nothing)"
        else:
            rng = f"{f.get('min', '-')} .. {f.get('max', '-')}"
        rows.append([f["name"], f["type"], "yes" if f["nullable"] else "no", round(100 * f["missing_rate"], 1), rng])
    if "features" in m["inputs"]:
        lines.append(render_table(["feature", "type", "nullable", "missing %", "range / categories"], rows, title="inputs"))
    lines.append("")
    rows = [[a["id"], a["format"], a["file"] + (f" (+{len(a['files']) - 1} files)" if len(a.get("files", [])) > 1 else ""),
             a["precision"], artifact_size(a), a["sha256"][:12], f"{a['converter']['name']} {a['converter']['version']}"]
            for a in m["artifacts"]]
    lines.append(render_table(["artifact", "format", "file", "precision", "bytes", "sha256", "converter"], rows,
                              title="artifacts (bytes: every file of the artifact)"))
    lines.append(f"package total: {package_bytes(package)} bytes (the manifest and every file it lists)")
    if m.get("parity"):
        lines.append("")
        rows = []
        for c in m["parity"]:
            mt = c["metrics"]
            rows.append([c["artifact"], c["runtime"], c["data"], c["rows"], mt.get("label_agreement"),
                         mt.get("max_probability_error", mt.get("max_scaled_error", mt.get("max_abs_error"))),
                         c["profile"] if isinstance(c["profile"], str) else "custom", "pass" if c["passed"] else "FAIL"])
        lines.append(render_table(["artifact", "runtime", "data", "rows", "agreement", "max error", "profile", "result"],
                                  rows, title="parity"))
    lines.append("")
    lines.append(f"golden vectors: {m['golden']['rows']} rows in {m['golden']['file']}")
    if "reference_profile" in m:
        lines.append(_profile_line(package))
    return "\n".join(lines)


def package_bytes(package: Package) -> int:
    """Bytes of the package as shipped: the .edgepack file, or the manifest and every file it lists
    (runtime/package.py: listed_entries; a shared file counted once)."""
    location = Path(package.location)
    if location.is_file():
        return location.stat().st_size
    names = {"manifest.json", *(e["file"] for e in listed_entries(package.manifest))}
    return sum((location / n).stat().st_size for n in names if (location / n).is_file())


def _profile_line(package: Package) -> str:
    """One line on the drift reference (docs/monitoring.md); a profile that fails its checksum says so."""
    entry = package.manifest["reference_profile"]
    try:
        profile = load_profile(package)
    except PackageError as err:
        return f"drift reference: {entry['file']} unusable ({err})"
    perf = profile.get("performance") or {}
    shown = ", ".join(f"{k} {perf[k]:.4g}" for k in ("auroc", "average_precision", "accuracy", "mae") if perf.get(k) is not None)
    return (f"drift reference: {profile['rows']} rows of {profile['source']} in {entry['file']} ({entry['size']} bytes)"
            + (f"; build-time {shown}" if shown else ""))


def run(args: argparse.Namespace) -> int:
    if args.html and not args.variants:
        raise UsageError("--html goes with --variants", fix="edgepack inspect --variants PACKAGE --html FILE")
    package = Package.open(args.package)
    checked = package.verify()
    signed = verify_package(package, TrustSet.load(args.trust)) if args.trust else None
    try:
        return _show(args, package, checked, signed)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Fields only shown here (parity metrics, the variants' report) are not all typed by the schema: a
        # value of the wrong type is the package's fault, said in one line, not a traceback.
        raise PackageError(f"manifest.json: a field edgepack inspect shows is malformed ({type(exc).__name__}: "
                           f"{quoted(str(exc), 80)})", where=str(args.package),
                           fix="rebuild the package with edgepack build") from exc


def _show(args: argparse.Namespace, package: Package, checked: list[str], signed: str | None) -> int:
    if args.json:
        print(json.dumps(package.manifest, indent=2))
    elif args.variants:

        print(render_variants(package.manifest))
        if args.html:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(variants_html(package.manifest))
            print(f"\nplot written to {args.html}")
    else:
        print(summary(package))
        print(f"verified: {len(checked)} files match their sha256 and size, all inside the package")
        signers = [str(e.get("key_id")) for e in read_signatures(package)]
        if signed:
            print(f"signature: valid, by trusted key {signed}")
        else:
            print(f"signatures: {', '.join(signers) + ' (not checked: pass --trust KEY.pub)' if signers else 'none (unsigned)'}")
    return EXIT_OK
