"""`make bench-quality`: imputation accuracy against mean/mode and IterativeImputer; gross-error catching."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (unlocks IterativeImputer)
from sklearn.impute import IterativeImputer

from jobs.pipeline.impute import apply_decisions
from jobs.pipeline.outliers import handle_outliers
from jobs.pipeline.plan import plan_missing
from jobs.pipeline.profile import column_role

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)
MASK_SHARE = 0.10
ERROR_SHARE = 0.01


def penguins() -> pd.DataFrame:
    import palmerpenguins
    return palmerpenguins.load_penguins().drop(columns=["year"])


def cars() -> pd.DataFrame:
    from vega_datasets import data
    return data.cars().drop(columns=["Name", "Year"])


def correlated(n: int = 3000, seed: int = 9) -> pd.DataFrame:
    """Numbers driven by two latent factors, and categories that follow them."""
    rng = np.random.default_rng(seed)
    f1, f2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({f"a{i}": f1 * (i + 1) + rng.normal(0, 0.5, n) for i in range(3)})
    frame = frame.assign(**{f"b{i}": f2 * 2 + f1 * 0.3 + rng.normal(0, 0.5, n) for i in range(3)})
    frame["income"] = np.exp(10 + 0.4 * f1 + rng.normal(0, 0.2, n)).round(0)
    frame["segment"] = np.where(f1 > 0.5, "high", np.where(f1 < -0.5, "low", "mid"))
    frame["flag"] = np.where(f2 + rng.normal(0, 0.3, n) > 0, "yes", "no")
    return frame


DATASETS = {"palmerpenguins": penguins, "vega cars": cars, "generated correlated": correlated}


def mask(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide MASK_SHARE of the observed cells; returns (masked frame, boolean mask of hidden cells)."""
    rng = np.random.default_rng(seed)
    hidden = (rng.random(frame.shape) < MASK_SHARE) & frame.notna().to_numpy()
    return frame.mask(hidden), pd.DataFrame(hidden, index=frame.index, columns=frame.columns)


def ours(masked: pd.DataFrame) -> pd.DataFrame:
    roles = {c: column_role(masked[c], c) for c in masked.columns}
    plans, _ = plan_missing(masked, roles, "fast")
    return apply_decisions(masked, plans)[0]


def mean_mode(masked: pd.DataFrame) -> pd.DataFrame:
    out = masked.copy()
    for col in out.columns:
        if pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].fillna(out[col].mean())
        else:
            out[col] = out[col].fillna(out[col].mode().iloc[0])
    return out


def iterative(masked: pd.DataFrame) -> pd.DataFrame:
    """IterativeImputer on the numbers (categories one-hot encoded as extra predictors); mode for categories."""
    out = mean_mode(masked)
    numeric = [c for c in masked.columns if pd.api.types.is_numeric_dtype(masked[c])]
    dummies = pd.get_dummies(masked.drop(columns=numeric), dtype=float)
    imputed = IterativeImputer(max_iter=10, random_state=0).fit_transform(pd.concat([masked[numeric], dummies], axis=1))
    out[numeric] = imputed[:, :len(numeric)]
    return out


METHODS = {"ours": ours, "mean/mode": mean_mode, "IterativeImputer": iterative}


def score(truth: pd.DataFrame, filled: pd.DataFrame, hidden: pd.DataFrame) -> dict:
    """NRMSE of numbers; for categories the accuracy of the cells filled and the share filled (a gap left
    missing is not a wrong guess: a category that nothing predicts is reported, not invented)."""
    nrmse, correct, done, total = [], 0, 0, 0
    for col in truth.columns:
        rows = hidden[col]
        if not rows.any():
            continue
        if pd.api.types.is_numeric_dtype(truth[col]):
            err = filled.loc[rows, col].astype(float) - truth.loc[rows, col].astype(float)
            nrmse.append(float(np.sqrt((err ** 2).mean()) / truth[col].std()))
        else:
            guessed = rows & filled[col].notna()
            correct += int((filled.loc[guessed, col].astype(str) == truth.loc[guessed, col].astype(str)).sum())
            done += int(guessed.sum())
            total += int(rows.sum())
    return {"nrmse": round(float(np.mean(nrmse)), 4),
            "accuracy": round(correct / done, 4) if done else None,
            "filled": round(done / total, 4) if total else None}


def imputation() -> dict:
    results = {}
    for name, load in DATASETS.items():
        truth = load()
        rows = {}
        for method, impute in METHODS.items():
            runs = []
            for seed in SEEDS:
                masked, hidden = mask(truth, seed)
                started = time.perf_counter()
                filled = impute(masked)
                runs.append({**score(truth, filled, hidden), "seconds": time.perf_counter() - started})
            rows[method] = {key: None if any(r[key] is None for r in runs) else
                            round(float(np.mean([r[key] for r in runs])), 4)
                            for key in ("nrmse", "accuracy", "filled", "seconds")}
        results[name] = rows
    return results


def gross_errors() -> dict:
    """Multiply 1% of numeric cells by 100; count how many the outlier step changes, and what else it touches."""
    results = {}
    for name, load in DATASETS.items():
        frame = load().select_dtypes("number").dropna().reset_index(drop=True).astype(float)
        rng = np.random.default_rng(3)
        injected = pd.DataFrame(rng.random(frame.shape) < ERROR_SHARE, columns=frame.columns)
        dirty = frame.mask(injected, frame * 100)
        row = {}
        for label, kwargs in {"ours (IQR k=3; k=2 on log scale when skewed)": {},
                              "MAD 3.5": {"method": "mad"}}.items():
            cleaned, _ = handle_outliers(dirty, strategy="clip", **kwargs)
            changed = cleaned.ne(dirty) & ~(cleaned.isna() & dirty.isna())
            row[label] = {"injected": int(injected.to_numpy().sum()),
                          "caught": int((changed & injected).to_numpy().sum()),
                          "genuine_changed": int((changed & ~injected).to_numpy().sum()),
                          "genuine_cells": int((~injected).to_numpy().sum())}
        naive = dirty.copy()
        for col in naive:
            q1, q3 = naive[col].quantile([0.25, 0.75])
            naive[col] = naive[col].clip(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
        changed = naive.ne(dirty)
        row["naive IQR 1.5 clip"] = {"injected": int(injected.to_numpy().sum()),
                                     "caught": int((changed & injected).to_numpy().sum()),
                                     "genuine_changed": int((changed & ~injected).to_numpy().sum()),
                                     "genuine_cells": int((~injected).to_numpy().sum())}
        results[name] = row
    return results


def main() -> int:
    results = {"imputation (10% of observed cells masked, mean of 3 seeds)": imputation(),
               "gross errors (x100 in 1% of numeric cells)": gross_errors()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
