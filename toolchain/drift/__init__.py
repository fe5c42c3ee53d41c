"""Drift and performance monitoring: the reference profile the build writes, and `edgepack drift`.

reference.py  the build's profile.json (runtime/profile.py bins the data; build-time performance added)
stats.py      the shift statistics on binned counts: PSI, Jensen-Shannon distance, chi-square, KS
performance.py AUROC, average precision, accuracy with confidence intervals
windows.py    reading and merging the device's window files, grouped by device or day
alerts.py     `--alert psi>0.2` thresholds
report.py     the drift report: compute (merged windows vs the profile), text and JSON
report_html.py the self-contained HTML page (inline SVG)
"""
