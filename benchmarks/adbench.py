"""Detection and compression quality of skvae at its defaults, against baselines.

Detection: the ADBench unsupervised protocol of ``shared/datasets/adbench/README.md``
on its 12 "quality" datasets. Rows are capped at ``--max-rows`` by a fixed random
subsample, then each seed makes a stratified 70/30 split; every model is fitted on
the training part with its anomalies left in and without labels, after a
``StandardScaler`` fitted on that part, and scores the test part (higher = more
anomalous). ROC AUC, average precision and fit time are averaged over the seeds.

Models: ``VAEOutlierDetector`` at its defaults (and the same fitted model scored with
the other ``score_method`` values), ``IsolationForest`` at scikit-learn's defaults,
``pyod.models.vae.VAE`` at its defaults when pyod is installed, and PCA
reconstruction error with ``min(n_features // 2, 10)`` components.

Compression: held-out reconstruction MSE of ``VAETransformer`` at its defaults
against ``PCA`` with as many components, by 5-fold cross-validation, on standardized
Wine (``n_components=2``) and on standardized ``load_digits`` (8 x 8 images, 64
features, ``n_components=2``: ten digit classes lie on curved clusters that a plane
cannot follow).

Run from the repository root::

    python benchmarks/adbench.py            # both parts, writes benchmarks/results/
    python benchmarks/adbench.py --quick    # one seed, 1,000 rows: a smoke run

The datasets are read from ``../shared/datasets/adbench/`` relative to the repository
root (or ``--data-dir``); when they are absent the detection part is skipped with a
message.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skvae import VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae._outlier import SCORE_METHODS  # noqa: E402

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets" / "adbench"
QUALITY_DATASETS = [
    "6_cardio",
    "38_thyroid",
    "42_WBC",
    "45_wine",
    "31_satimage-2",
    "23_mammography",
    "29_Pima",
    "18_Ionosphere",
    "40_vowels",
    "4_breastw",
    "22_magic.gamma",
    "2_annthyroid",
]
# Run too, for crashes and NaN scores at the extremes of shape; not in the means.
ROBUSTNESS_DATASETS = ["17_InternetAds", "34_smtp", "16_http", "11_donors"]


class PCAReconstruction:
    """Anomaly score = squared reconstruction error of a PCA (the linear baseline)."""

    def fit(self, X):
        k = min(max(1, X.shape[1] // 2), 10)
        self.pca_ = PCA(n_components=k, random_state=0).fit(X)
        return self

    def anomaly_score(self, X):
        reconstruction = self.pca_.inverse_transform(self.pca_.transform(X))
        return ((X - reconstruction) ** 2).sum(axis=1)


def make_models(seed: int) -> dict:
    """Fresh models for one split; each maps to (model, anomaly-score function)."""
    models = {
        "skvae": (
            VAEOutlierDetector(random_state=seed),
            lambda m, X: -m.score_samples(X),
        ),
        "IsolationForest": (
            IsolationForest(random_state=seed),
            lambda m, X: -m.score_samples(X),
        ),
        "PCA reconstruction": (PCAReconstruction(), lambda m, X: m.anomaly_score(X)),
    }
    try:
        from pyod.models.vae import VAE
    except ImportError:
        pass
    else:
        models["PyOD VAE"] = (
            VAE(random_state=seed, verbose=0),
            lambda m, X: m.decision_function(X),
        )
    return models


def load(data_dir: Path, name: str, max_rows: int):
    data = np.load(data_dir / f"{name}.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    if len(X) > max_rows:
        keep = np.sort(np.random.RandomState(0).choice(len(X), max_rows, replace=False))
        X, y = X[keep], y[keep]
    return X, y


def evaluate_detection(data_dir: Path, names, seeds, max_rows: int) -> list[dict]:
    rows = []
    for name in names:
        X, y = load(data_dir, name, max_rows)
        for seed in seeds:
            X_train, X_test, _, y_test = train_test_split(
                X, y, test_size=0.3, stratify=y, random_state=seed
            )
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            for label, (model, anomaly_score) in make_models(seed).items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train)
                fit_time = time.perf_counter() - start
                if label == "skvae":
                    default = model.score_method
                    others = [m for m in SCORE_METHODS if m != default]
                    variants = [(label, default)] + [
                        (f"skvae (score_method={m!r})", m) for m in others
                    ]
                else:
                    variants = [(label, None)]
                for method_label, method in variants:
                    if method is not None:
                        model.set_params(score_method=method)
                    scores = anomaly_score(model, X_test)
                    finite = bool(np.all(np.isfinite(scores)))
                    rows.append(
                        {
                            "dataset": name,
                            "seed": seed,
                            "method": method_label,
                            "roc_auc": roc_auc_score(y_test, scores)
                            if finite
                            else np.nan,
                            "average_precision": average_precision_score(y_test, scores)
                            if finite
                            else np.nan,
                            "fit_time_s": fit_time,
                            "n_train": len(X_train),
                            "n_features": X.shape[1],
                        }
                    )
            print(f"  {name} seed {seed} done", flush=True)
    return rows


def summarise(rows: list[dict], names) -> tuple[list[str], dict]:
    """Per-dataset mean ROC AUC and overall means, by method."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    table = {}
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        per_dataset = {
            name: np.mean([r["roc_auc"] for r in mine if r["dataset"] == name])
            for name in names
        }
        table[method] = {
            "per_dataset": per_dataset,
            "roc_auc": np.mean(list(per_dataset.values())),
            "average_precision": np.mean(
                [
                    np.mean([r["average_precision"] for r in mine if r["dataset"] == n])
                    for n in names
                ]
            ),
            "fit_time_s": np.mean([r["fit_time_s"] for r in mine]),
            "nan": sum(not np.isfinite(r["roc_auc"]) for r in mine),
        }
    return methods, table


def detection_markdown(methods, table, names) -> str:
    lines = [
        "| method | mean ROC AUC | mean AP | mean fit time (s) |",
        "|---|---:|---:|---:|",
    ]
    for m in methods:
        t = table[m]
        lines.append(
            f"| {m} | {t['roc_auc']:.3f} | {t['average_precision']:.3f} "
            f"| {t['fit_time_s']:.2f} |"
        )
    lines += [
        "",
        "ROC AUC per dataset:",
        "",
        "| dataset | " + " | ".join(methods) + " |",
        "|---|" + "---:|" * len(methods),
    ]
    for name in names:
        cells = " | ".join(f"{table[m]['per_dataset'][name]:.3f}" for m in methods)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def evaluate_robustness(data_dir: Path, names) -> list[dict]:
    """One split of every row of the wide and large datasets: finite scores?"""
    rows = []
    for name in names:
        X, y = load(data_dir, name, max_rows=10**9)
        X_train, X_test, _, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=0
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        for label, model in [
            ("skvae", VAEOutlierDetector(random_state=0)),
            ("IsolationForest", IsolationForest(random_state=0)),
        ]:
            start = time.perf_counter()
            model.fit(X_train)
            fit_time = time.perf_counter() - start
            scores = -model.score_samples(X_test)
            finite = bool(np.all(np.isfinite(scores)))
            rows.append(
                {
                    "dataset": name,
                    "shape": f"{X.shape[0]} x {X.shape[1]}",
                    "method": label,
                    "finite_scores": finite,
                    "roc_auc": roc_auc_score(y_test, scores) if finite else np.nan,
                    "average_precision": average_precision_score(y_test, scores)
                    if finite
                    else np.nan,
                    "fit_time_s": fit_time,
                }
            )
            print(f"  {name} {label}: AUC {rows[-1]['roc_auc']:.3f} ({fit_time:.1f} s)")
    return rows


def robustness_markdown(rows) -> str:
    lines = [
        "| dataset | rows x features | method | finite scores | ROC AUC | AP "
        "| fit time (s) |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['shape']} | {r['method']} | {r['finite_scores']} "
            f"| {r['roc_auc']:.3f} | {r['average_precision']:.3f} "
            f"| {r['fit_time_s']:.1f} |"
        )
    return "\n".join(lines)


def heldout_mse(make_model, X, n_splits: int = 5) -> float:
    """Mean squared reconstruction error on held-out folds, after StandardScaler."""
    errors = []
    for train, test in KFold(n_splits, shuffle=True, random_state=0).split(X):
        pipe = make_pipeline(StandardScaler(), make_model()).fit(X[train])
        Z = pipe.transform(X[test])
        X_test = pipe[0].transform(X[test])
        errors.append(np.mean((pipe[-1].inverse_transform(Z) - X_test) ** 2))
    return float(np.mean(errors))


def evaluate_compression(quick: bool) -> list[dict]:
    X_wine = load_wine().data
    X_digits = load_digits().data
    if quick:
        X_digits = X_digits[:500]
    rows = []
    for name, X, k in [("Wine", X_wine, 2), ("digits", X_digits, 2)]:
        for label, make_model in [
            (
                "VAETransformer",
                lambda k=k: VAETransformer(n_components=k, random_state=0),
            ),
            ("PCA", lambda k=k: PCA(n_components=k)),
        ]:
            start = time.perf_counter()
            mse = heldout_mse(make_model, X)
            rows.append(
                {
                    "dataset": f"{name} ({X.shape[0]} x {X.shape[1]})",
                    "n_components": k,
                    "method": label,
                    "heldout_mse": mse,
                    "time_s": time.perf_counter() - start,
                }
            )
        vae, pca = rows[-2]["heldout_mse"], rows[-1]["heldout_mse"]
        print(f"  {name}: VAE {vae:.4f}  PCA {pca:.4f}  ratio {vae / pca:.3f}")
    return rows


def compression_markdown(rows) -> str:
    lines = [
        "| data | n_components | VAETransformer MSE | PCA MSE | VAE / PCA |",
        "|---|---:|---:|---:|---:|",
    ]
    for vae, pca in zip(rows[::2], rows[1::2], strict=True):
        lines.append(
            f"| {vae['dataset']} | {vae['n_components']} | {vae['heldout_mse']:.4f} "
            f"| {pca['heldout_mse']:.4f} "
            f"| {vae['heldout_mse'] / pca['heldout_mse']:.3f} |"
        )
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--datasets", nargs="+", default=QUALITY_DATASETS)
    parser.add_argument(
        "--robustness",
        action="store_true",
        help="also fit the wide and large datasets once, checking for NaN scores",
    )
    parser.add_argument("--skip-compression", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one seed, 1,000 rows")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.max_rows = [0], 1000
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    today = datetime.date.today().isoformat()
    header = (
        f"Measured {today} with "
        f"`{' '.join(['python benchmarks/adbench.py', *(argv or sys.argv[1:])])}`; "
        f"torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores."
    )
    names = [n for n in args.datasets if (args.data_dir / f"{n}.npz").exists()]
    if args.skip_detection:
        pass
    elif not names:
        print(
            f"No ADBench datasets in {args.data_dir}; skipping the detection part "
            "(pass --data-dir to point at them)."
        )
    else:
        print(f"Detection: {len(names)} datasets, seeds {args.seeds}")
        rows = evaluate_detection(args.data_dir, names, args.seeds, args.max_rows)
        methods, table = summarise(rows, names)
        markdown = detection_markdown(methods, table, names)
        print(markdown)
        write_csv(args.out_dir / "adbench.csv", rows)
        sections = [
            "# Detection quality (ADBench quality datasets)\n\n"
            f"{header} Seeds {args.seeds}, rows capped at {args.max_rows:,}.\n\n"
            f"{markdown}"
        ]
        if any(t["nan"] for t in table.values()):
            print("NaN or infinite scores:", {m: t["nan"] for m, t in table.items()})
        if args.robustness:
            extra = [
                n for n in ROBUSTNESS_DATASETS if (args.data_dir / f"{n}.npz").exists()
            ]
            extra_rows = evaluate_robustness(args.data_dir, extra)
            write_csv(args.out_dir / "robustness.csv", extra_rows)
            sections.append(
                "## Wide and large inputs (one split, full rows)\n\n"
                + robustness_markdown(extra_rows)
            )
        (args.out_dir / "adbench.md").write_text("\n\n".join(sections) + "\n")
    if not args.skip_compression:
        print("Compression: 5-fold held-out reconstruction MSE")
        comp_rows = evaluate_compression(args.quick)
        write_csv(args.out_dir / "compression.csv", comp_rows)
        (args.out_dir / "compression.md").write_text(
            "# Compression quality (5-fold held-out MSE, StandardScaler)\n\n"
            f"{header} All rows, 5 folds.\n\n{compression_markdown(comp_rows)}\n"
        )
    print(f"Wrote {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
