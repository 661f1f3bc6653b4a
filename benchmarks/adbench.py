"""Detection and compression quality of skvae at its defaults, against baselines.

Detection follows the ADBench unsupervised protocol of
``../shared/datasets/adbench/README.md``: rows are capped at 5,000 by a fixed random
subsample (``RandomState(0)``); each seed in 0, 1, 2 makes a stratified 70/30 split;
every model is fitted on the training part with its anomalies left in and no labels,
after a ``StandardScaler`` fitted on that part (in front of *every* model,
IsolationForest included), and scores the test part (higher = more anomalous). ROC
AUC, average precision (AP) and fit time are averaged over the seeds.

The public sets are split, once and before any result, into a part to choose the
defaults on and a part to confirm them on (the lists below): classical choose (10
sets), classical confirm (5), embeddings choose (3 ResNet-18 image-feature sets of
512 columns), embeddings confirm (3). For each part the script prints the per-dataset
ROC AUC and AP of every model, then the mean AUC, mean AP, mean rank by AUC (1 =
best, ties averaged; over skvae at its default score and the baselines), the wins of
skvae against each baseline (datasets where its mean AUC is higher) and the mean fit
time.

Models: ``VAEOutlierDetector(random_state=seed)`` at its defaults (the same fitted
model scored with the other ``score_method`` values gives extra rows, which are not
ranked); ``IsolationForest``; PyOD's ``MCD`` (classical sets only: it is too slow at
512 features), ``KNN``, ``ECOD`` and ``VAE`` (skip the slow last one with
``--no-pyod-vae``); PCA reconstruction error; and two linear Gaussian likelihoods,
``FactorAnalysis(k).score_samples`` and ``PCA(k).score_samples`` (probabilistic
PCA), with ``k = min(max(1, n_features // 2), 10)``. Nothing is cached across runs.

Robustness (``--robustness``): one split of every row of the wide and large sets
(17_InternetAds, 34_smtp, 16_http, 11_donors), skvae and IsolationForest only:
finite scores, no crash, fit time.

Compression: 5-fold held-out reconstruction MSE of
``VAETransformer(n_components=k, random_state=0)`` at its defaults
(``inverse_transform(transform(X_test))``) against ``PCA(n_components=k)``, after a
``StandardScaler`` fitted on each training fold, at k = 2 and 5, on Wine and
``load_digits`` (scikit-learn) and the features of 6_cardio, 31_satimage-2,
18_Ionosphere and 4_breastw (ADBench, capped at 5,000 rows).

The TARGETS block (issue 11) prints PASS/FAIL for the choose and the confirm part.

Run from the repository root (single-threaded: torch and BLAS both get 1 thread)::

    python benchmarks/adbench.py --robustness  # everything, to benchmarks/results/
    python benchmarks/adbench.py --quick  # smoke: 1 seed, 1,000 rows, 2 sets a part

Other flags: ``--part {choose,confirm,all}``, ``--no-pyod-vae``,
``--skip-compression``, ``--skip-detection``. Datasets are read from
``../shared/datasets/adbench/`` relative to the repository root (or ``--data-dir``);
missing ones are skipped with a message. Writes ``adbench.csv``/``.md``,
``compression.csv``/``.md`` and ``robustness.csv`` in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import shlex
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skvae import VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae._outlier import SCORE_METHODS  # noqa: E402

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets" / "adbench"
MAX_ROWS = 5000

# The choose/confirm split, fixed before any result: one np.random.RandomState(11);
# its first .permutation over the 15 sorted classical names puts the first 10 in
# CHOOSE and the other 5 in CONFIRM; its second .permutation over the 6 sorted
# embedding names puts the first 3 in CHOOSE and the other 3 in CONFIRM.
CLASSICAL_CHOOSE = [
    "22_magic.gamma",
    "23_mammography",
    "29_Pima",
    "2_annthyroid",
    "31_satimage-2",
    "38_thyroid",
    "42_WBC",
    "4_breastw",
    "6_cardio",
    "8_celeba",
]
CLASSICAL_CONFIRM = ["10_cover", "18_Ionosphere", "33_skin", "40_vowels", "45_wine"]
EMBEDDINGS_CHOOSE = ["ResNet18_CIFAR10_0", "ResNet18_CIFAR10_6", "ResNet18_SVHN_0"]
EMBEDDINGS_CONFIRM = ["ResNet18_CIFAR10_4", "ResNet18_SVHN_8", "ResNet18_SVHN_9"]
# (part name, split, kind, dataset names); embeddings live in embeddings/.
PARTS = [
    ("classical choose", "choose", "classical", CLASSICAL_CHOOSE),
    ("classical confirm", "confirm", "classical", CLASSICAL_CONFIRM),
    ("embeddings choose", "choose", "embeddings", EMBEDDINGS_CHOOSE),
    ("embeddings confirm", "confirm", "embeddings", EMBEDDINGS_CONFIRM),
]
# One split of every row, skvae and IsolationForest only: crashes and NaN scores at
# the extremes of shape (1,555 features; up to 619,326 rows). Not in the means.
ROBUSTNESS_DATASETS = ["17_InternetAds", "34_smtp", "16_http", "11_donors"]
# Compression: (name, loader); ADBench features only, capped at MAX_ROWS rows.
COMPRESSION_ADBENCH = ["6_cardio", "31_satimage-2", "18_Ionosphere", "4_breastw"]
COMPRESSION_K = (2, 5)

SKVAE = "skvae"
# The baselines skvae is compared with (ranks, wins, targets), in table order.
BASELINES = [
    "IsolationForest",
    "MCD",
    "KNN",
    "ECOD",
    "PyOD VAE",
    "PCA reconstruction",
    "FactorAnalysis likelihood",
    "PCA likelihood",
]


def linear_k(n_features: int) -> int:
    return min(max(1, n_features // 2), 10)


class PCAReconstruction:
    """Anomaly score = squared reconstruction error of a PCA (the linear baseline)."""

    def fit(self, X):
        self.pca_ = PCA(n_components=linear_k(X.shape[1]), random_state=0).fit(X)
        return self

    def anomaly_score(self, X):
        reconstruction = self.pca_.inverse_transform(self.pca_.transform(X))
        return ((X - reconstruction) ** 2).sum(axis=1)


def _negated_score_samples(model, X):
    return -model.score_samples(X)


def _decision_function(model, X):
    return model.decision_function(X)


def make_models(seed: int, kind: str, n_features: int, pyod_vae: bool) -> dict:
    """Fresh models for one split: label -> (model, anomaly-score function)."""
    from pyod.models.ecod import ECOD
    from pyod.models.knn import KNN
    from pyod.models.mcd import MCD

    k = linear_k(n_features)
    models = {
        SKVAE: (VAEOutlierDetector(random_state=seed), _negated_score_samples),
        # The default of skvae 0.1 (fixed noise variance, squared error) and the
        # learned per-feature noise (the candidate that won the choose part and
        # did not carry over to the confirm part): shown, not ranked.
        "skvae (noise_model='fixed')": (
            VAEOutlierDetector(noise_model="fixed", random_state=seed),
            _negated_score_samples,
        ),
        "skvae (noise_model='feature')": (
            VAEOutlierDetector(noise_model="feature", random_state=seed),
            _negated_score_samples,
        ),
        "IsolationForest": (IsolationForest(random_state=seed), _negated_score_samples),
    }
    if kind == "classical":  # too slow at 512 features
        models["MCD"] = (MCD(random_state=seed), _decision_function)
    models["KNN"] = (KNN(), _decision_function)
    models["ECOD"] = (ECOD(), _decision_function)
    if pyod_vae:
        from pyod.models.vae import VAE

        models["PyOD VAE"] = (VAE(random_state=seed, verbose=0), _decision_function)
    models["PCA reconstruction"] = (
        PCAReconstruction(),
        lambda m, X: m.anomaly_score(X),
    )
    models["FactorAnalysis likelihood"] = (
        FactorAnalysis(n_components=k, random_state=0),
        _negated_score_samples,
    )
    models["PCA likelihood"] = (
        PCA(n_components=k, random_state=0),
        _negated_score_samples,
    )
    return models


def timed_fit(model, X) -> float:
    """Fit ``model`` on ``X`` with warnings silenced; return the seconds it took."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return time.perf_counter() - start


def dataset_path(data_dir: Path, kind: str, name: str) -> Path:
    sub = data_dir / "embeddings" if kind == "embeddings" else data_dir
    return sub / f"{name}.npz"


def load(path: Path, max_rows: int | None):
    data = np.load(path)
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    if max_rows is not None and len(X) > max_rows:
        keep = np.sort(np.random.RandomState(0).choice(len(X), max_rows, replace=False))
        X, y = X[keep], y[keep]
    return X, y


def _metrics(y, scores) -> tuple[float, float, bool]:
    finite = bool(np.all(np.isfinite(scores)))
    if not finite:
        return np.nan, np.nan, False
    return roc_auc_score(y, scores), average_precision_score(y, scores), True


def evaluate_dataset(part, split, kind, name, X, y, seeds, pyod_vae) -> list[dict]:
    """Every model on every seed's split of one dataset: one row per (seed, method)."""
    rows = []
    for seed in seeds:
        X_train, X_test, _, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        base = {
            "part": part,
            "split": split,
            "kind": kind,
            "dataset": name,
            "seed": seed,
            "n_rows": len(X),
            "n_features": X.shape[1],
        }
        for label, (model, anomaly_score) in make_models(
            seed, kind, X.shape[1], pyod_vae
        ).items():
            error, fit_time = "", np.nan
            variants = [(label, None)]
            try:
                fit_time = timed_fit(model, X_train)
            except Exception as exc:  # a crash is a result: record it, go on
                error = f"fit: {type(exc).__name__}: {exc}"
                traceback.print_exc()
            if label == SKVAE and not error:
                default = model.score_method
                variants = [(label, default)] + [
                    (f"skvae (score_method={m!r})", m)
                    for m in SCORE_METHODS
                    if m != default
                ]
            for method_label, method in variants:
                auc = ap = np.nan
                finite, err = False, error
                if not err:
                    try:
                        if method is not None:
                            model.set_params(score_method=method)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            scores = anomaly_score(model, X_test)
                        auc, ap, finite = _metrics(y_test, scores)
                    except Exception as exc:
                        err = f"score: {type(exc).__name__}: {exc}"
                        traceback.print_exc()
                rows.append(
                    {
                        **base,
                        "method": method_label,
                        "roc_auc": auc,
                        "average_precision": ap,
                        "fit_time_s": fit_time,
                        "finite_scores": finite,
                        "error": err,
                    }
                )
        done = {r["method"]: r for r in rows if r["seed"] == seed}
        print(
            f"  {name} seed {seed}: skvae AUC {done[SKVAE]['roc_auc']:.3f} "
            f"({done[SKVAE]['fit_time_s']:.2f} s)",
            flush=True,
        )
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """Seed means: one row per (dataset, method)."""
    out = {}
    for r in rows:
        key = (r["part"], r["dataset"], r["method"])
        out.setdefault(key, []).append(r)
    agg = []
    for group in out.values():
        first = group[0]
        agg.append(
            {
                **{k: first[k] for k in ("part", "split", "kind", "dataset", "method")},
                "n_rows": first["n_rows"],
                "n_features": first["n_features"],
                "n_seeds": len(group),
                "roc_auc": float(np.mean([g["roc_auc"] for g in group])),
                "average_precision": float(
                    np.mean([g["average_precision"] for g in group])
                ),
                "fit_time_s": float(np.mean([g["fit_time_s"] for g in group])),
                "failures": sum(
                    bool(g["error"]) or not g["finite_scores"] for g in group
                ),
                "error": "; ".join(sorted({g["error"] for g in group if g["error"]})),
            }
        )
    return agg


def summarise_part(agg: list[dict], part: str, max_rows: int) -> dict:
    """Means, ranks, wins and fit times of one part, from the per-dataset rows."""
    mine = [r for r in agg if r["part"] == part]
    names = list(dict.fromkeys(r["dataset"] for r in mine))
    methods = list(dict.fromkeys(r["method"] for r in mine))
    cell = {(r["dataset"], r["method"]): r for r in mine}
    ranked = [m for m in methods if m == SKVAE or m in BASELINES]
    ranks = {m: [] for m in ranked}
    for name in names:
        # A failed model (NaN AUC) ranks last.
        aucs = [np.nan_to_num(cell[name, m]["roc_auc"], nan=-1.0) for m in ranked]
        for m, r in zip(ranked, rankdata([-a for a in aucs]), strict=True):
            ranks[m].append(r)
    summary = {}
    for m in methods:
        per = [cell[n, m] for n in names]
        wins = None
        if m in BASELINES:
            wins = sum(
                cell[n, SKVAE]["roc_auc"] > cell[n, m]["roc_auc"]
                for n in names
                if (n, SKVAE) in cell
            )
        capped = [r["fit_time_s"] for r in per if r["n_rows"] == max_rows]
        summary[m] = {
            "roc_auc": float(np.mean([r["roc_auc"] for r in per])),
            "average_precision": float(np.mean([r["average_precision"] for r in per])),
            "mean_rank": float(np.mean(ranks[m])) if m in ranks else np.nan,
            "skvae_wins": wins,
            "fit_time_s": float(np.mean([r["fit_time_s"] for r in per])),
            "fit_time_at_cap_s": float(np.mean(capped)) if capped else np.nan,
            "n_at_cap": len(capped),
            "failures": sum(r["failures"] for r in per),
        }
    return {"names": names, "methods": methods, "cell": cell, "summary": summary}


def _f(x: float, digits: int = 3) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def part_summary_markdown(part: str, s: dict, max_rows: int) -> str:
    n = len(s["names"])
    lines = [
        f"**{part}** ({n} sets: {', '.join(s['names'])})",
        "",
        "| method | mean ROC AUC | mean AP | mean rank | skvae wins (AUC) "
        f"| mean fit time (s) | fit time at {max_rows:,} rows (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in s["methods"]:
        t = s["summary"][m]
        wins = "" if t["skvae_wins"] is None else f"{t['skvae_wins']}/{n}"
        cap = f"{_f(t['fit_time_at_cap_s'], 2)} ({t['n_at_cap']} set(s))"
        name = f"**{m}**" if m == SKVAE else m
        fail = f" ({t['failures']} failed fits/scores)" if t["failures"] else ""
        lines.append(
            f"| {name}{fail} | {_f(t['roc_auc'])} | {_f(t['average_precision'])} "
            f"| {_f(t['mean_rank'], 2) if np.isfinite(t['mean_rank']) else ''} "
            f"| {wins} | {_f(t['fit_time_s'], 2)} "
            f"| {cap if t['n_at_cap'] else ''} |"
        )
    return "\n".join(lines)


def part_detail_markdown(part: str, s: dict) -> str:
    methods = s["methods"]
    out = []
    for metric, title in [("roc_auc", "ROC AUC"), ("average_precision", "AP")]:
        out += [
            f"{title} per dataset, {part}:",
            "",
            "| dataset | rows x features | " + " | ".join(methods) + " |",
            "|---|---|" + "---:|" * len(methods),
        ]
        for name in s["names"]:
            first = s["cell"][name, methods[0]]
            cells = " | ".join(
                _f(s["cell"][name, m][metric]) if (name, m) in s["cell"] else ""
                for m in methods
            )
            out.append(
                f"| {name} | {first['n_rows']} x {first['n_features']} | {cells} |"
            )
        out.append("")
    return "\n".join(out)


def evaluate_robustness(data_dir: Path, names) -> list[dict]:
    """One split of every row of the wide and large datasets: finite scores?"""
    rows = []
    for name in names:
        X, y = load(dataset_path(data_dir, "classical", name), max_rows=None)
        X_train, X_test, _, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=0
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        for label, model in [
            (SKVAE, VAEOutlierDetector(random_state=0)),
            ("IsolationForest", IsolationForest(random_state=0)),
        ]:
            auc = ap = fit_time = np.nan
            finite, error = False, ""
            try:
                fit_time = timed_fit(model, X_train)
                auc, ap, finite = _metrics(y_test, -model.score_samples(X_test))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            rows.append(
                {
                    "dataset": name,
                    "shape": f"{X.shape[0]} x {X.shape[1]}",
                    "method": label,
                    "finite_scores": finite,
                    "roc_auc": auc,
                    "average_precision": ap,
                    "fit_time_s": fit_time,
                    "error": error,
                }
            )
            print(
                f"  {name} {label}: AUC {_f(auc)} ({_f(fit_time, 1)} s)"
                + (f" ERROR {error}" if error else ""),
                flush=True,
            )
    return rows


def robustness_markdown(rows) -> str:
    lines = [
        "| dataset | rows x features | method | finite scores | ROC AUC | AP "
        "| fit time (s) |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        finite = str(r["finite_scores"]) + (f" ({r['error']})" if r["error"] else "")
        lines.append(
            f"| {r['dataset']} | {r['shape']} | {r['method']} | {finite} "
            f"| {_f(r['roc_auc'])} | {_f(r['average_precision'])} "
            f"| {_f(r['fit_time_s'], 1)} |"
        )
    return "\n".join(lines)


def heldout_mse(make_model, X, n_splits: int = 5) -> float:
    """Mean squared reconstruction error on held-out folds, after StandardScaler."""
    errors = []
    for train, test in KFold(n_splits, shuffle=True, random_state=0).split(X):
        pipe = make_pipeline(StandardScaler(), make_model())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X[train])
        Z = pipe.transform(X[test])
        X_test = pipe[0].transform(X[test])
        errors.append(np.mean((pipe[-1].inverse_transform(Z) - X_test) ** 2))
    return float(np.mean(errors))


def compression_data(data_dir: Path, quick: bool, max_rows: int):
    data = [("Wine", load_wine().data), ("digits", load_digits().data)]
    names = COMPRESSION_ADBENCH
    if quick:
        data, names = data[:1], names[-1:]
    for name in names:
        path = dataset_path(data_dir, "classical", name)
        if path.exists():
            data.append((name, load(path, max_rows)[0]))
        else:
            print(f"  {name}: not found in {data_dir}, skipped")
    return data


def evaluate_compression(data) -> list[dict]:
    rows = []
    for name, X in data:
        for k in COMPRESSION_K:
            result = {
                "dataset": name,
                "shape": f"{X.shape[0]} x {X.shape[1]}",
                "n_components": k,
            }
            for label, make_model in [
                ("vae", lambda k=k: VAETransformer(n_components=k, random_state=0)),
                ("pca", lambda k=k: PCA(n_components=k)),
            ]:
                start = time.perf_counter()
                try:
                    result[f"{label}_mse"] = heldout_mse(make_model, X)
                    result[f"{label}_error"] = ""
                except Exception as exc:
                    result[f"{label}_mse"] = np.nan
                    result[f"{label}_error"] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                result[f"{label}_time_s"] = time.perf_counter() - start
            result["ratio"] = result["vae_mse"] / result["pca_mse"]
            rows.append(result)
            print(
                f"  {name} k={k}: VAE {_f(result['vae_mse'], 4)}  "
                f"PCA {_f(result['pca_mse'], 4)}  ratio {_f(result['ratio'])} "
                f"({result['vae_time_s']:.1f} s for 5 VAE fits)",
                flush=True,
            )
    return rows


def compression_markdown(rows) -> str:
    lines = [
        "| data | rows x features | n_components | VAETransformer MSE | PCA MSE "
        "| VAE / PCA |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['shape']} | {r['n_components']} "
            f"| {_f(r['vae_mse'], 4)} | {_f(r['pca_mse'], 4)} | {_f(r['ratio'])} |"
        )
    return "\n".join(lines)


def targets(parts: dict, comp_rows, robust_rows, max_rows: int) -> list[str]:
    """PASS/FAIL lines of issue 11's targets, for the choose and the confirm part."""

    def line(ok, text):
        status = "PASS" if ok else "FAIL"
        return f"{status}  {text}"

    def compare(s, metric, others):
        me = s["summary"][SKVAE][metric]
        present = [o for o in others if o in s["summary"]]
        ok = bool(present) and all(me > s["summary"][o][metric] for o in present)
        best = max(present, key=lambda o: s["summary"][o][metric]) if present else None
        detail = (
            f"skvae {_f(me)} vs best of them {best} {_f(s['summary'][best][metric])}"
            if best
            else "no baseline ran"
        )
        return ok, detail

    lines = []
    for split in ("choose", "confirm"):
        classical = parts.get(f"classical {split}")
        embeddings = parts.get(f"embeddings {split}")
        if classical is None and embeddings is None:
            continue
        lines.append(f"[{split}]")
        if classical is not None:
            for metric, title in [("roc_auc", "AUC"), ("average_precision", "AP")]:
                ok, detail = compare(classical, metric, ["MCD", "IsolationForest"])
                lines.append(
                    line(
                        ok,
                        f"classical: mean {title} > MCD and IsolationForest ({detail})",
                    )
                )
        if embeddings is not None:
            for metric, title in [("roc_auc", "AUC"), ("average_precision", "AP")]:
                ok, detail = compare(embeddings, metric, BASELINES)
                lines.append(
                    line(ok, f"embeddings: mean {title} > every baseline ({detail})")
                )
        if classical is not None:
            t = classical["summary"][SKVAE]
            cap = t["fit_time_at_cap_s"]
            lines.append(
                line(
                    t["n_at_cap"] > 0 and cap <= 3.0,
                    f"classical: skvae mean fit time at {max_rows:,} rows <= 3 s "
                    f"({_f(cap, 2)} s over {t['n_at_cap']} set(s) at the cap)",
                )
            )
        failures = sum(
            s["summary"][m]["failures"]
            for s in (classical, embeddings)
            if s is not None
            for m in s["methods"]
            if m.startswith(SKVAE)
        )
        lines.append(
            line(
                failures == 0,
                f"skvae: no NaN score and no crash on the {split} sets "
                f"({failures} failed fits/scores)",
            )
        )
    lines.append("[both parts]")
    if comp_rows:
        bad = [
            f"{r['dataset']} k={r['n_components']} ({_f(r['ratio'])})"
            for r in comp_rows
            if not r["ratio"] <= 1.0
        ]
        lines.append(
            line(
                not bad,
                f"compression: VAE/PCA held-out MSE <= 1.0 on all {len(comp_rows)} "
                f"(dataset, k) pairs, k in {COMPRESSION_K}"
                + (f"; worse: {', '.join(bad)}" if bad else ""),
            )
        )
    else:
        lines.append("NOT RUN  compression (--skip-compression)")
    if robust_rows:
        bad = [
            r["dataset"]
            for r in robust_rows
            if r["method"] == SKVAE and (r["error"] or not r["finite_scores"])
        ]
        lines.append(
            line(
                not bad,
                "robustness: skvae no NaN score and no crash on "
                + ", ".join(dict.fromkeys(r["dataset"] for r in robust_rows))
                + (f"; failed: {', '.join(bad)}" if bad else ""),
            )
        )
    else:
        lines.append("NOT RUN  robustness (pass --robustness)")
    return lines


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--part", choices=["choose", "confirm", "all"], default="all")
    parser.add_argument(
        "--quick", action="store_true", help="smoke: 1 seed, 1,000 rows, 2 sets a part"
    )
    parser.add_argument(
        "--no-pyod-vae", action="store_true", help="skip PyOD's VAE (the slow one)"
    )
    parser.add_argument(
        "--robustness",
        action="store_true",
        help="also fit the wide and large datasets once, checking for NaN scores",
    )
    parser.add_argument("--skip-compression", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    args = parser.parse_args(argv)
    seeds, max_rows = ([0], 1000) if args.quick else ([0, 1, 2], MAX_ROWS)
    threads = 1
    torch.set_num_threads(threads)
    threadpool_limits(threads)  # BLAS/OpenMP of numpy, scipy, sklearn

    command = shlex.join(
        ["python", "benchmarks/adbench.py", *(sys.argv[1:] if argv is None else argv)]
    )
    started = time.perf_counter()
    header = (
        f"Measured {datetime.datetime.now().isoformat(timespec='minutes')} with "
        f"`{command}`; torch {torch.__version__}, torch.set_num_threads({threads}) "
        f"and {threads} BLAS thread(s), {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores. Seeds {seeds}, rows capped at {max_rows:,} "
        "(fixed subsample, RandomState(0)), stratified 70/30 splits, StandardScaler "
        "fitted on the training part in front of every model (IsolationForest "
        "included); fit on the training part with its anomalies, no labels; scores "
        "on the test part."
    )
    print(header, flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    parts, seed_rows, agg = {}, [], []
    robust_rows, comp_rows = [], []
    if not args.skip_detection:
        for part, split, kind, names in PARTS:
            if args.part not in ("all", split):
                continue
            if args.quick:
                names = names[:2]
            found = [n for n in names if dataset_path(args.data_dir, kind, n).exists()]
            missing = sorted(set(names) - set(found))
            if missing:
                print(f"{part}: not found in {args.data_dir}, skipped: {missing}")
            if not found:
                continue
            print(f"Detection, {part}: {len(found)} datasets", flush=True)
            for name in found:
                X, y = load(dataset_path(args.data_dir, kind, name), max_rows)
                seed_rows += evaluate_dataset(
                    part, split, kind, name, X, y, seeds, not args.no_pyod_vae
                )
            agg = aggregate(seed_rows)
            parts[part] = summarise_part(agg, part, max_rows)
        if args.robustness:
            names = [
                n
                for n in ROBUSTNESS_DATASETS
                if dataset_path(args.data_dir, "classical", n).exists()
            ]
            print(f"Robustness: {names}, one split, all rows", flush=True)
            robust_rows = evaluate_robustness(args.data_dir, names)
    if not args.skip_compression:
        print("Compression: 5-fold held-out reconstruction MSE", flush=True)
        comp_rows = evaluate_compression(
            compression_data(args.data_dir, args.quick, max_rows)
        )
    wall = time.perf_counter() - started

    target_lines = targets(parts, comp_rows, robust_rows, max_rows)
    summaries = [part_summary_markdown(p, s, max_rows) for p, s in parts.items()]
    details = [part_detail_markdown(p, s) for p, s in parts.items()]
    targets_md = "```\nTARGETS (issue 11)\n" + "\n".join(target_lines) + "\n```"
    footer = f"Wall time of the run: {wall / 60:.1f} min."
    for text in details:
        print(text)
    for text in summaries:
        print(text + "\n")
    if comp_rows:
        print(compression_markdown(comp_rows) + "\n")
    if robust_rows:
        print(robustness_markdown(robust_rows) + "\n")
    print(targets_md.strip("`\n"))
    print(footer)

    header_md = f"{header}\n\n{footer}"
    if parts:
        csv_rows = [{"row": "seed", **r} for r in seed_rows]
        csv_rows += [{"row": "dataset mean", **r} for r in agg]
        for part, s in parts.items():
            for m, t in s["summary"].items():
                csv_rows.append({"row": "part summary", "part": part, "method": m, **t})
        write_csv(args.out_dir / "adbench.csv", csv_rows)
        sections = [
            "# Detection quality (ADBench public sets)",
            header_md,
            "Mean rank by ROC AUC over skvae (default score) and the baselines, "
            "1 = best; skvae wins = datasets where skvae's mean AUC is higher than "
            "the baseline's. MCD runs on the classical sets only (too slow at 512 "
            "features).",
            *summaries,
            targets_md,
            "## Per dataset",
            *details,
        ]
        if robust_rows:
            sections += [
                "## Wide and large inputs (one split, all rows)",
                robustness_markdown(robust_rows),
            ]
        if comp_rows:
            sections += ["## Compression", compression_markdown(comp_rows)]
        (args.out_dir / "adbench.md").write_text("\n\n".join(sections) + "\n")
    if robust_rows:
        write_csv(args.out_dir / "robustness.csv", robust_rows)
    if comp_rows:
        write_csv(args.out_dir / "compression.csv", comp_rows)
        (args.out_dir / "compression.md").write_text(
            "# Compression quality (5-fold held-out MSE, StandardScaler per fold)\n\n"
            f"{header_md}\n\n{compression_markdown(comp_rows)}\n\n{targets_md}\n"
        )
    print(f"Wrote {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
