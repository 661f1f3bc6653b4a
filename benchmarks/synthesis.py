"""Synthetic tables: skvae's ``sample`` against SDV's TVAE, CTGAN and GaussianCopula.

Issue 23. Tables: the four UCI tables of ``../shared/datasets/tables/`` (adult,
german, horse-colic, abalone; the label column is kept as a column of the table, so
every generator has to produce it) and four numeric ADBench sets of
``../shared/datasets/adbench/`` (inliers only, ``y == 0``). Each table is capped at
``ceil(max_rows / 0.7)`` rows by a fixed random subsample (``RandomState(0)``), so
the 70% training part has at most ``--max-rows`` rows (default 5,000: only Adult
and 38_thyroid reach it). Each seed in 0, 1, 2 makes a 70/30 split; every generator
is fitted on the 70% and samples as many rows as the 70% has.

Generators: ``VAETransformer(random_state=seed).fit(train).sample(len(train),
random_state=seed)`` (extra parameters with ``--skvae-param KEY=VALUE`` and
``--sample-param KEY=VALUE``; write such trials elsewhere with ``--out-dir``) and SDV's
``TVAESynthesizer``, ``CTGANSynthesizer`` and ``GaussianCopulaSynthesizer`` at
their defaults (300 epochs for the two networks), with numpy's, torch's and
Python's global seeds set to the seed before the fit and ``_set_random_state(seed)``
before sampling.

Metrics (all from sdmetrics and scikit-learn):

- sdmetrics' single-table ``QualityReport`` of the synthetic rows against the 70%
  they were fitted on: Column Shapes, Column Pair Trends and the overall score;
- detection (C2ST): 5-fold ROC AUC of ``HistGradientBoostingClassifier`` telling the
  real 30% from as many synthetic rows (a seeded subsample); 0.5 is perfect;
- machine-learning efficiency on the tables with a target: HGB trained on the
  synthetic rows, scored on the real 30%, next to the same model trained on the real
  70% (ROC AUC for adult's income and german's credit, macro one-vs-rest ROC AUC for
  horse-colic's outcome, R^2 of ``HistGradientBoostingRegressor`` for abalone's
  rings); rows whose target is missing are left out of this metric;
- privacy: distance to the closest record of the 70% (DCR; Euclidean, on numeric
  columns standardized by the 70% with a missing indicator, plus one-hot
  categoricals with missing as a level) of the C2ST subsample of synthetic rows,
  against the same for the real 30%; the ratio of the medians (synthetic /
  held-out), >= 1 means no closer than unseen real rows. ``copies`` is the share of
  synthetic rows equal to a training row;
- fit + sample seconds at 1 torch thread and 1 BLAS thread.

Choose / confirm: before any result, a seeded permutation (below) put two UCI tables
and two ADBench sets in each part; defaults are chosen on ``choose`` and confirmed on
``confirm``, and the TARGETS block prints PASS/FAIL for each part.

Peer results are expensive (about an hour on one core), so each (table, seed, peer,
max-rows, epochs) row is cached in ``benchmarks/results/synthesis_peers.csv`` and
its synthetic rows in ``benchmarks/results/synthesis_samples/`` (not committed; a
cached frame is re-scored when its metrics row is missing). Reruns only fit skvae.

Run from the repository root with the interpreter that has ``sdv`` and ``sdmetrics``
(the ``bench`` extra)::

    python benchmarks/synthesis.py --peers-only  # the slow part, cached
    python benchmarks/synthesis.py --skvae-only  # skvae + the cached peers
    python benchmarks/synthesis.py               # both
    python benchmarks/synthesis.py --quick       # smoke, 2 tables, nothing written

A full run writes ``synthesis.md`` and ``synthesis.csv`` (one row per table, seed
and generator) to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.metadata
import math
import os
import random
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from imputation import markdown, read_adbench, read_table, verdict
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from skvae import VAETransformer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
UCI = ["adult", "german", "horse-colic", "abalone"]
NUMERIC = ["6_cardio", "38_thyroid", "29_Pima", "40_vowels"]
PEERS = ["TVAE", "CTGAN", "GaussianCopula"]
TARGETED_PEERS = ["TVAE", "CTGAN"]
KEY = ["table", "seed", "peer", "max_rows", "epochs"]


def split_parts() -> dict[str, list[str]]:
    """Choose / confirm tables, fixed by a seeded permutation before any result."""
    rng = np.random.RandomState(23)
    uci, numeric = rng.permutation(UCI), rng.permutation(NUMERIC)
    return {
        "choose": [str(n) for n in (*uci[:2], *numeric[:2])],
        "confirm": [str(n) for n in (*uci[2:], *numeric[2:])],
    }


PARTS = split_parts()
# What each UCI table predicts, and how ML efficiency scores it.
TARGETS = {
    "adult": ("income", "roc_auc"),
    "german": ("credit", "roc_auc"),
    "horse-colic": ("outcome", "roc_auc_ovr"),
    "abalone": ("rings", "r2"),
}


def load(name: str, max_rows: int) -> pd.DataFrame | None:
    """The table, label included as a column, capped so the 70% has <= max_rows."""
    if name in UCI:
        loaded = read_table(name)
        if loaded is None:
            return None
        frame, label = loaded
        target = TARGETS[name][0]
        if name == "adult":
            frame[target] = label.astype(object)
        elif name == "german":
            frame[target] = label.map({1: "good", 2: "bad"}).astype(object)
        elif name == "horse-colic":
            outcome = {1: "lived", 2: "died", 3: "euthanized"}
            frame[target] = label.map(outcome).astype(object)
        else:
            frame[target] = label.astype(int)
    else:
        loaded = read_adbench(name, sys.maxsize)
        if loaded is None:
            return None
        frame, y = loaded
        frame = frame[y == 0].reset_index(drop=True)
    cap = math.ceil(max_rows / 0.7)
    if len(frame) > cap:
        frame = frame.sample(cap, random_state=0).reset_index(drop=True)
    return frame


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object]


def conform(synthetic: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The synthetic rows with the training columns, categoricals as object."""
    if not isinstance(synthetic, pd.DataFrame):
        synthetic = pd.DataFrame(synthetic, columns=train.columns)
    synthetic = synthetic[list(train.columns)].reset_index(drop=True)
    for c in train.columns:
        if train[c].dtype == object:
            values = synthetic[c].astype(object)
            synthetic[c] = values.where(values.notna(), None)
        else:
            synthetic[c] = pd.to_numeric(synthetic[c], errors="coerce")
    return synthetic


def sdv_metadata(train: pd.DataFrame):
    from sdv.metadata import Metadata

    columns = {
        c: {"sdtype": "categorical" if train[c].dtype == object else "numerical"}
        for c in train.columns
    }
    return Metadata.load_from_dict({"tables": {"table": {"columns": columns}}})


def fit_sample_peer(peer: str, train: pd.DataFrame, seed: int, epochs: int | None):
    from sdv.single_table import (
        CTGANSynthesizer,
        GaussianCopulaSynthesizer,
        TVAESynthesizer,
    )

    metadata = sdv_metadata(train)
    extra = {} if epochs is None or peer == "GaussianCopula" else {"epochs": epochs}
    make = {
        "TVAE": TVAESynthesizer,
        "CTGAN": CTGANSynthesizer,
        "GaussianCopula": GaussianCopulaSynthesizer,
    }[peer]
    # SDV's networks draw from the global RNGs during fit: seed them all.
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global RNG is what SDV reads)
    torch.manual_seed(seed)
    synthesizer = make(metadata, **extra)
    # SDV 2 takes and returns {table name: DataFrame}, one table here.
    synthesizer.fit({"table": train})
    synthesizer._set_random_state(seed)
    return synthesizer.sample(num_rows=len(train))["table"]


def fit_sample_skvae(train: pd.DataFrame, seed: int, params: dict, draws: dict):
    model = VAETransformer(random_state=seed, **params).fit(train)
    return model.sample(len(train), random_state=seed, **draws)


def quality(train, synthetic):
    from sdmetrics.reports.single_table import QualityReport

    columns = {
        c: {"sdtype": "categorical" if train[c].dtype == object else "numerical"}
        for c in train.columns
    }
    report = QualityReport()
    report.generate(train, synthetic, {"columns": columns}, verbose=False)
    scores = report.get_properties().set_index("Property")["Score"]
    return {
        "quality": float(report.get_score()),
        "shapes": float(scores["Column Shapes"]),
        "pairs": float(scores["Column Pair Trends"]),
    }


def hgb_frames(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """Frames with one shared pandas categorical dtype per object column (for HGB)."""
    frames = [f.copy() for f in frames]
    for c in categorical_columns(frames[0]):
        levels = sorted(set().union(*(set(f[c].dropna()) for f in frames)), key=str)
        dtype = pd.CategoricalDtype(levels)
        for f in frames:
            f[c] = f[c].astype(dtype)
    return frames


def c2st(holdout, synthetic, seed):
    """5-fold ROC AUC of HGB telling the real 30% from as many synthetic rows."""
    real, fake = hgb_frames(holdout, synthetic)
    X = pd.concat([real, fake], ignore_index=True)
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype")
    return float(cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean())


def ml_score(name, fit_on, holdout):
    """HGB trained on fit_on, scored on the real holdout (the table's metric)."""
    target, metric = TARGETS[name]
    fit_on = fit_on[fit_on[target].notna()]
    holdout = holdout[holdout[target].notna()]
    Xf, Xh = hgb_frames(fit_on.drop(columns=target), holdout.drop(columns=target))
    if metric == "r2":
        model = HistGradientBoostingRegressor(categorical_features="from_dtype")
        model.fit(Xf, fit_on[target].astype(float))
        return float(r2_score(holdout[target].astype(float), model.predict(Xh)))
    classes = sorted(holdout[target].unique())
    seen = sorted(fit_on[target].unique())
    if len(seen) < 2:
        return 0.5  # one class in the training rows: a constant prediction
    model = HistGradientBoostingClassifier(categorical_features="from_dtype")
    model.fit(Xf, fit_on[target].astype(str))
    proba = pd.DataFrame(model.predict_proba(Xh), columns=model.classes_)
    proba = proba.reindex(columns=classes, fill_value=0.0).to_numpy()
    if metric == "roc_auc":
        positive = ">50K" if name == "adult" else "bad"
        return float(
            roc_auc_score(
                holdout[target] == positive, proba[:, classes.index(positive)]
            )
        )
    proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
    return float(
        roc_auc_score(holdout[target], proba, multi_class="ovr", labels=classes)
    )


def dcr_encoder(train: pd.DataFrame):
    """Standardized numerics (+ missing indicators) and one-hot categoricals."""
    numeric = [c for c in train.columns if train[c].dtype != object]
    categorical = categorical_columns(train)
    mean = train[numeric].astype(float).mean()
    std = train[numeric].astype(float).std()
    # A constant column's std is 0 or rounding noise: leave it in raw units.
    std[train[numeric].nunique() <= 1] = 1.0
    holey = [c for c in numeric if train[c].isna().any()]
    levels = {
        c: sorted(train[c].fillna("<missing>").unique(), key=str) for c in categorical
    }

    def encode(frame):
        values = (frame[numeric].astype(float) - mean) / std
        parts = [values.fillna(0.0).to_numpy()]
        parts.append(frame[holey].isna().to_numpy(float))
        for c in categorical:
            column = frame[c].fillna("<missing>").to_numpy()
            parts.append((column[:, None] == np.asarray(levels[c])[None, :]) * 1.0)
        return np.hstack(parts)

    return encode


def privacy(train, holdout, synthetic):
    encode = dcr_encoder(train)
    neighbours = NearestNeighbors(n_neighbors=1).fit(encode(train))
    dcr_holdout = neighbours.kneighbors(encode(holdout))[0][:, 0]
    dcr_synthetic = neighbours.kneighbors(encode(synthetic))[0][:, 0]
    ratio = np.median(dcr_synthetic) / max(np.median(dcr_holdout), 1e-12)
    return {"dcr_ratio": float(ratio), "copies": float(np.mean(dcr_synthetic < 1e-9))}


def score(name, train, holdout, synthetic, seed):
    """Every metric of one synthetic table."""
    synthetic = conform(synthetic, train)
    subsample = synthetic.sample(len(holdout), random_state=seed)
    row = quality(train, synthetic)
    row["c2st"] = c2st(holdout, subsample, seed)
    if name in TARGETS:
        row["ml"] = ml_score(name, synthetic, holdout)
        row["ml_real"] = ml_score(name, train, holdout)
    else:
        row["ml"] = row["ml_real"] = np.nan
    row.update(privacy(train, holdout, subsample))
    return row


def split(frame: pd.DataFrame, seed: int):
    train, holdout = train_test_split(frame, test_size=0.3, random_state=seed)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def peer_rows(tables, seeds, max_rows, epochs, cache_dir, compute):
    """Peer metrics from the cache, computing (and caching) the missing ones."""
    cache_path = cache_dir / "synthesis_peers.csv" if cache_dir else None
    samples_dir = cache_dir / "synthesis_samples" if cache_dir else None
    epochs_key = "default" if epochs is None else str(epochs)
    cache = (
        pd.read_csv(cache_path, dtype={"epochs": str})
        if cache_path is not None and cache_path.exists()
        else pd.DataFrame(columns=[*KEY])
    )
    rows = []
    for name, frame in tables.items():
        for seed in seeds:
            train = holdout = None
            for peer in PEERS:
                key = (name, seed, peer, max_rows, epochs_key)
                hit = cache[
                    (cache["table"] == name)
                    & (cache["seed"] == seed)
                    & (cache["peer"] == peer)
                    & (cache["max_rows"] == max_rows)
                    & (cache["epochs"].astype(str) == epochs_key)
                ]
                if len(hit):
                    rows.append(hit.iloc[-1].to_dict())
                    continue
                sample_path = (
                    samples_dir / f"{name}_{seed}_{peer}_{max_rows}_{epochs_key}.pkl"
                    if samples_dir
                    else None
                )
                if sample_path is not None and sample_path.exists():
                    stored = pd.read_pickle(sample_path)
                    synthetic, seconds = stored["frame"], stored["seconds"]
                elif compute:
                    train, holdout = split(frame, seed)
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        synthetic = fit_sample_peer(peer, train, seed, epochs)
                    seconds = time.perf_counter() - start
                    if sample_path is not None:
                        samples_dir.mkdir(parents=True, exist_ok=True)
                        pd.to_pickle(
                            {"frame": synthetic, "seconds": seconds}, sample_path
                        )
                else:
                    print(f"  no cached {peer} for {name} seed {seed}", flush=True)
                    continue
                train, holdout = split(frame, seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row = dict(zip(KEY, key, strict=True))
                    row.update(score(name, train, holdout, synthetic, seed))
                row["seconds"] = seconds
                rows.append(row)
                report_row(row)
                if cache_path is not None:
                    cache = pd.concat([cache, pd.DataFrame([row])], ignore_index=True)
                    cache.to_csv(cache_path, index=False)
    return pd.DataFrame(rows)


def report_row(row):
    ml = (
        ""
        if pd.isna(row["ml"])
        else f", ML {row['ml']:.3f} (real {row['ml_real']:.3f})"
    )
    print(
        f"  {row['table']} seed {row['seed']} {row['peer']}: quality "
        f"{row['quality']:.3f}, C2ST {row['c2st']:.3f}{ml}, DCR ratio "
        f"{row['dcr_ratio']:.3f}, {row['seconds']:.1f} s",
        flush=True,
    )


def skvae_rows(tables, seeds, max_rows, epochs, params, draws):
    if not hasattr(VAETransformer, "sample"):
        print("skip skvae: this VAETransformer has no sample() yet", flush=True)
        return pd.DataFrame()
    if epochs is not None:
        params = {"max_epochs": epochs, **params}
    rows = []
    for name, frame in tables.items():
        for seed in seeds:
            train, holdout = split(frame, seed)
            start = time.perf_counter()
            synthetic = fit_sample_skvae(train, seed, params, draws)
            seconds = time.perf_counter() - start
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row = dict(zip(KEY, (name, seed, "skvae", max_rows, "-"), strict=True))
                row.update(score(name, train, holdout, synthetic, seed))
            row["seconds"] = seconds
            rows.append(row)
            report_row(row)
    return pd.DataFrame(rows)


METRICS = ["quality", "shapes", "pairs", "c2st", "ml", "ml_real", "dcr_ratio"]


def blank_nan(table: str) -> str:
    """A markdown table with its NaN cells (no target) left empty."""
    return table.replace("| nan ", "|  ").replace("| nan |", "|  |")


def part_section(part, names, results):
    """The per-table table, the part's means and its TARGETS lines."""
    sub = results[results["table"].isin(names)]
    if sub.empty:
        return "(no results)", []
    means = sub.groupby(["table", "peer"])[[*METRICS, "copies", "seconds"]].mean()
    means = means.dropna(axis=1, how="all")
    part_means = sub.groupby("peer")[[*METRICS, "seconds"]].mean()
    part_means = part_means.dropna(axis=1, how="all")
    body = "\n\n".join(
        [
            f"Tables: {', '.join(names)}. Means over the seeds.",
            blank_nan(markdown(means)),
            "Means over the part's tables (ml: over the tables with a target; "
            "seconds: fit + sample per table):",
            blank_nan(markdown(part_means)),
        ]
    )
    lines = []
    by = sub.groupby(["table", "peer"])[METRICS + ["seconds"]].mean()
    generators = set(sub["peer"])
    if "skvae" not in generators:
        return body, [f"TARGETS {part}: not measured (no skvae results)"]
    tables = sorted(set(sub["table"]))
    for rival in TARGETED_PEERS:
        if rival not in generators:
            lines.append(f"TARGET {part} vs {rival}: not measured (no {rival} rows)")
            continue
        ours = by.xs("skvae", level="peer")
        theirs = by.xs(rival, level="peer").reindex(ours.index)
        wins = ours["quality"] > theirs["quality"]
        lines.append(
            f"TARGET {part}: QualityReport overall above {rival} on every table "
            f"({int(wins.sum())}/{len(wins)}; "
            + ", ".join(
                f"{t} {ours.loc[t, 'quality']:.3f} vs {theirs.loc[t, 'quality']:.3f}"
                for t in ours.index
            )
            + f"): {verdict(bool(wins.all()))}"
        )
        mine, other = ours["c2st"].mean(), theirs["c2st"].mean()
        lines.append(
            f"TARGET {part}: mean C2ST AUC {mine:.3f} < {rival} {other:.3f}: "
            f"{verdict(mine < other)}"
        )
    if "TVAE" in generators:
        ours = by.xs("skvae", level="peer")
        tvae = by.xs("TVAE", level="peer").reindex(ours.index)
        with_target = [t for t in tables if t in TARGETS]
        if with_target:
            ok = ours.loc[with_target, "ml"] >= tvae.loc[with_target, "ml"]
            lines.append(
                f"TARGET {part}: ML efficiency >= TVAE on each table with a target ("
                + ", ".join(
                    f"{t} {ours.loc[t, 'ml']:.3f} vs {tvae.loc[t, 'ml']:.3f}"
                    for t in with_target
                )
                + f"): {verdict(bool(ok.all()))}"
            )
        mine, other = ours["seconds"].sum(), tvae["seconds"].sum()
        lines.append(
            f"TARGET {part}: fit + sample time {mine:.1f} s <= TVAE {other:.1f} s "
            f"(ratio {mine / other:.2f}): {verdict(mine <= other)}"
        )
    ours = by.xs("skvae", level="peer")["dcr_ratio"]
    lines.append(
        f"TARGET {part}: median DCR ratio >= 1 on every table ("
        + ", ".join(f"{t} {v:.2f}" for t, v in ours.items())
        + f"): {verdict(bool((ours >= 1).all()))}"
    )
    return body, lines


def versions() -> str:
    names = ["skvae", "sdv", "sdmetrics", "torch", "scikit-learn", "pandas", "numpy"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def parse_params(items):
    params = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-rows", type=int, default=5000)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--peers-only", action="store_true")
    which.add_argument("--skvae-only", action="store_true")
    parser.add_argument(
        "--skvae-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra VAETransformer parameter (repeatable), e.g. n_components=8",
    )
    parser.add_argument(
        "--sample-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra sample() argument (repeatable), e.g. missing_cells=True",
    )
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="where synthesis.md/.csv go (default: benchmarks/results/ for a full "
        "run, nowhere for --quick)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the peer cache is (default: benchmarks/results/ for a full "
        "run, --out-dir for --quick)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    threadpool_limits(1)
    seeds = [0] if args.quick else [0, 1, 2]
    max_rows = 300 if args.quick else args.max_rows
    epochs = 10 if args.quick else None
    out_dir = args.out_dir or (None if args.quick else RESULTS)
    cache_dir = args.cache_dir or (out_dir if args.quick else RESULTS)
    params = parse_params(args.skvae_param)
    draws = parse_params(args.sample_param)
    names = args.tables or (["german", "29_Pima"] if args.quick else UCI + NUMERIC)
    command = shlex.join(
        ["python", "benchmarks/synthesis.py", *(sys.argv[1:] if argv is None else argv)]
    )
    started = time.perf_counter()
    report = [
        "# Synthetic tables: skvae's sample() against SDV's TVAE, CTGAN and "
        "GaussianCopula",
        f"Measured {datetime.datetime.now().isoformat(timespec='minutes')} with "
        f"`{command}`; torch.set_num_threads(1) and 1 BLAS thread, "
        f"{os.cpu_count()} cores. {versions()}. Seeds {seeds}. Each table is capped "
        f"at ceil({max_rows:,} / 0.7) rows by a fixed random subsample "
        "(RandomState(0)), so the 70% training part has at most "
        f"{max_rows:,} rows; every generator samples as many rows as its 70%. "
        + (
            f"Quick mode: peers at {epochs} epochs, skvae at max_epochs={epochs}. "
            if args.quick
            else "Peers at their SDV defaults. "
        )
        + "skvae: VAETransformer(random_state=seed"
        + "".join(f", {k}={v!r}" for k, v in params.items())
        + ").sample(n, random_state=seed"
        + "".join(f", {k}={v!r}" for k, v in draws.items())
        + ").",
    ]
    print(report[-1], flush=True)
    print(f"Parts (fixed before any result): {PARTS}", flush=True)
    tables = {}
    for name in names:
        frame = load(name, max_rows)
        if frame is not None:
            tables[name] = frame
    frames = []
    if not args.skvae_only:
        print("Peers (cached where possible):", flush=True)
    frames.append(
        peer_rows(
            tables, seeds, max_rows, epochs, cache_dir, compute=not args.skvae_only
        )
    )
    if not args.peers_only:
        print("skvae:", flush=True)
        frames.append(skvae_rows(tables, seeds, max_rows, epochs, params, draws))
    results = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    targets = []
    for part, part_names in PARTS.items():
        body, lines = part_section(
            part, [n for n in part_names if n in tables], results
        )
        report.extend([f"## {part.capitalize()} part", body])
        print(f"\n{part.capitalize()} part\n{body}", flush=True)
        targets.extend(lines)
    report.extend(["## Targets", "\n".join(f"- {t}" for t in targets)])
    print("\nTargets\n" + "\n".join(targets), flush=True)
    wall = (time.perf_counter() - started) / 60
    spent = results.groupby("peer")["seconds"].sum() / 60
    report.append(
        f"Wall time of this run: {wall:.1f} min (cached peer rows cost nothing here). "
        "Fit + sample minutes summed over tables and seeds: "
        + ", ".join(f"{peer} {m:.1f}" for peer, m in spent.items())
        + "."
    )
    print(report[-1], flush=True)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "synthesis.md").write_text("\n\n".join(report) + "\n")
        results.to_csv(out_dir / "synthesis.csv", index=False)
        print(f"Wrote {out_dir / 'synthesis.md'} and synthesis.csv", flush=True)


if __name__ == "__main__":
    main()
