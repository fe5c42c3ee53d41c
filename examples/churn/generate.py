"""Generate a seeded, realistic telco-churn table.

The columns mirror what telco churn data sets carry (tenure, contract, internet service, payment method,
charges, support calls) with a few missing values, so the example exercises numeric and categorical
columns, imputation and unknown categories. Churn is drawn from a logistic model of those columns, so a
classifier has real signal to learn.

Example:
    python examples/churn/generate.py --rows 5000 --seed 7 -o build/churn/churn.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CONTRACTS = ["month-to-month", "one-year", "two-year"]
INTERNET = ["dsl", "fiber", "none"]
PAYMENT = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"]


def generate(rows: int, seed: int) -> pd.DataFrame:
    """Return `rows` customers drawn from a fixed seed (the same seed gives the same table)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(CONTRACTS, size=rows, p=[0.55, 0.25, 0.20])
    internet = rng.choice(INTERNET, size=rows, p=[0.35, 0.45, 0.20])
    payment = rng.choice(PAYMENT, size=rows, p=[0.35, 0.2, 0.22, 0.23])
    senior = rng.random(rows) < 0.16
    tenure = np.where(
        contract == "month-to-month", rng.gamma(1.5, 9.0, rows), rng.gamma(3.0, 14.0, rows)
    ).clip(0, 72).round().astype(int)
    base = np.select([internet == "fiber", internet == "dsl"], [70.0, 50.0], 20.0)
    monthly = (base + rng.normal(0, 12, rows) + senior * 5).clip(18, 120).round(2)
    total = (monthly * tenure * rng.uniform(0.9, 1.05, rows)).round(2)
    support_calls = rng.poisson(np.where(internet == "fiber", 1.8, 1.0))
    data_gb = np.where(internet == "none", 0.0, rng.lognormal(3.0, 0.8, rows)).round(1)

    logit = (
        -1.2
        + 1.3 * (contract == "month-to-month")
        - 1.0 * (contract == "two-year")
        + 0.7 * (internet == "fiber")
        + 0.6 * (payment == "electronic-check")
        + 0.35 * support_calls
        - 0.045 * tenure
        + 0.012 * (monthly - 60)
        + 0.4 * senior
    )
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))

    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "contract": contract,
            "internet_service": internet,
            "payment_method": payment,
            "senior_citizen": senior.astype(int),
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "data_gb": data_gb,
            "churn": churn.astype(int),
        }
    )
    # New customers often have no billed total yet, and usage meters fail now and then.
    frame.loc[(frame.tenure_months == 0) | (rng.random(rows) < 0.02), "total_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "data_gb"] = np.nan
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    generate(args.rows, args.seed).to_csv(args.output, index=False)
    print(f"wrote {args.rows} customers to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
