"""`--alert NAME>VALUE` thresholds: which figure, which direction, which limit.

Feature figures fire when any feature crosses the limit; output figures look at the outputs; the others
at the whole report. A figure the report could not compute (no labels: no auroc_drop) does not fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...runtime.errors import UsageError

# figure -> (where it is read, what it means)
FIGURES: dict[str, tuple[str, str]] = {
    "psi": ("feature", "population stability index of a feature"),
    "js": ("feature", "Jensen-Shannon distance (base 2) of a feature"),
    "ks": ("feature", "KS-style statistic D on a numeric feature's bins"),
    "ks_p": ("feature", "p-value of the KS-style test"),
    "chi2_p": ("feature", "p-value of the chi-square test on a feature's bins"),
    "missing_change": ("feature", "missing rate now minus at build time"),
    "out_of_range": ("feature", "share of values outside the reference's min..max"),
    "unseen": ("feature", "share of category values the model never saw"),
    "output_psi": ("output", "population stability index of an output (class score, labels, value)"),
    "output_js": ("output", "Jensen-Shannon distance of an output"),
    "rejected_rate": ("report", "share of records the scorer rejected"),
    "auroc_drop": ("report", "build-time AUROC minus current AUROC (needs --labels)"),
    "ap_drop": ("report", "build-time average precision minus current (needs --labels)"),
    "accuracy_drop": ("report", "build-time accuracy minus current (needs --labels)"),
}
DEFAULT_ALERTS = ("psi>0.2", "output_psi>0.2", "unseen>0.01", "rejected_rate>0.05", "auroc_drop>0.05")
_PATTERN = re.compile(r"^\s*([a-z0-9_]+)\s*([<>])\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Alert:
    figure: str
    above: bool  # fires when the figure is > limit (else < limit)
    limit: float

    @property
    def text(self) -> str:
        return f"{self.figure}{'>' if self.above else '<'}{self.limit:g}"

    def fires(self, value: float | None) -> bool:
        if value is None or value != value:
            return False
        return value > self.limit if self.above else value < self.limit


def parse_alert(text: str) -> Alert:
    """`psi>0.2` -> Alert. Raises UsageError naming the known figures."""
    match = _PATTERN.match(text)
    if not match or match.group(1) not in FIGURES:
        raise UsageError(f"--alert {text!r}: write FIGURE>VALUE or FIGURE<VALUE",
                         fix="figures: " + ", ".join(FIGURES) + " (e.g. --alert 'psi>0.2' --alert 'auroc_drop>0.05', quoted for the shell)")
    try:
        limit = float(match.group(3))
    except ValueError:
        raise UsageError(f"--alert {text!r}: {match.group(3)!r} is not a number") from None
    return Alert(match.group(1), match.group(2) == ">", limit)


def evaluate(alerts: list[Alert], report: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerts that fire on one report (compute.report_for): figure, limit, where, value."""
    fired = []
    for alert in alerts:
        scope = FIGURES[alert.figure][0]
        if scope == "feature":
            items = [(f["name"], f.get(alert.figure)) for f in report["features"]]
        elif scope == "output":
            items = [(o["name"], o.get(alert.figure.removeprefix("output_"))) for o in report["outputs"]]
        else:
            items = [("", report["summary"].get(alert.figure))]
        for where, value in items:
            if alert.fires(value):
                fired.append({"alert": alert.text, "where": where, "value": value})
    return fired
