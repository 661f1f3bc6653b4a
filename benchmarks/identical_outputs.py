"""Every output of skvae on the benchmark workloads and the examples, saved or compared.

A refactoring must not change a number. This script fits the three estimators at
their defaults (and the variants the benchmarks and examples use) on the public
data of ``../shared/datasets/`` and the examples' synthetic data, and records
``score_samples``, ``decision_function``, ``offset_``, ``transform``,
``inverse_transform``, imputations, per-feature reconstruction errors, ``score``,
the training histories (every numeric key but the timings), outputs after
``skvae.save`` / ``skvae.load`` and pickle, ``partial_fit`` streams, warm starts
and the ONNX graphs' outputs in onnxruntime.

    python benchmarks/identical_outputs.py --save before.npz    # on the old tree
    python benchmarks/identical_outputs.py --compare before.npz  # on the new one

``--compare`` prints one line per output and exits 1 unless every one is equal
to the last bit (``np.array_equal``, NaN equal to NaN). Rows are capped at
``--max-rows`` (default 800) so the run takes a few minutes on 1 thread; the
workloads' data and settings are those of ``benchmarks/adbench.py``,
``benchmarks/imputation.py`` and ``examples/``. Datasets that are absent are
skipped, on both sides alike.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imputation import hide_cells, read_adbench, read_table  # noqa: E402

import skvae  # noqa: E402
from skvae import VAEImputer, VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae.datasets import make_anomaly_data  # noqa: E402

ADBENCH = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "adbench"
CLASSICAL = [
    "2_annthyroid",
    "4_breastw",
    "6_cardio",
    "10_cover",
    "18_Ionosphere",
    "22_magic.gamma",
    "23_mammography",
    "29_Pima",
    "31_satimage-2",
    "33_skin",
    "38_thyroid",
    "40_vowels",
    "42_WBC",
    "45_wine",
]
EMBEDDINGS = ["ResNet18_CIFAR10_0", "ResNet18_SVHN_8"]
TABLES = ["german", "adult", "horse-colic", "abalone"]
# History keys that are timings, not model numbers.
TIMING_KEYS = {"dur"}


def history_arrays(estimator) -> dict:
    """Every numeric entry of every epoch of ``history_``, one array per key."""
    rows = estimator.history_
    keys = sorted({k for row in rows for k in row if k not in TIMING_KEYS})
    out = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if all(isinstance(v, (bool, int, float, type(None))) for v in values):
            out[f"history.{key}"] = np.array(
                [np.nan if v is None else float(v) for v in values]
            )
    return out


def detector_outputs(detector, X, per_feature: bool = True) -> dict:
    out = {
        "score_samples": detector.score_samples(X),
        "decision_function": detector.decision_function(X),
        "offset_": np.array(detector.offset_),
        "score": np.array(detector.score(X)),
        **history_arrays(detector),
    }
    if per_feature:
        out["reconstruction_error"] = detector.reconstruction_error(X, per_feature=True)
    return out


def roundtrip_outputs(estimator, X, method: str) -> dict:
    """``method``'s output after pickle and after skvae.save / skvae.load."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.skvae"
        skvae.save(estimator, path)
        loaded = skvae.load(path)
    return {
        "after_save_load": np.asarray(getattr(loaded, method)(X)),
        "after_pickle": np.asarray(
            getattr(pickle.loads(pickle.dumps(estimator)), method)(X)
        ),
    }


def onnx_outputs(estimator, X) -> dict:
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        import skvae.onnx  # noqa: F401
    except ImportError:
        return {}
    options = (
        {VAEOutlierDetector: {"score_samples": True}}
        if isinstance(estimator, VAEOutlierDetector)
        else None
    )
    model = to_onnx(estimator, X[:1], options=options)
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return {
        f"onnx.{name}": value
        for name, value in zip(names, session.run(None, {"X": X}), strict=True)
    }


def workloads(max_rows: int):
    """Yield ``(name, fn)``; ``fn()`` returns a dict of output arrays."""
    for name in CLASSICAL:
        path = ADBENCH / f"{name}.npz"
        if not path.exists():
            continue

        def classical(name=name):
            X, _ = read_adbench(name, max_rows)
            X = StandardScaler().fit_transform(X)
            detector = VAEOutlierDetector(random_state=0).fit(X)
            out = detector_outputs(detector, X)
            out.update(roundtrip_outputs(detector, X, "score_samples"))
            return out

        yield f"adbench/{name}/default", classical

    for name in EMBEDDINGS:
        path = ADBENCH / "embeddings" / f"{name}.npz"
        if not path.exists():
            continue

        def embedding(path=path):
            data = np.load(path)
            rng = np.random.RandomState(0)
            rows = rng.choice(len(data["X"]), min(max_rows, len(data["X"])), False)
            X = StandardScaler().fit_transform(data["X"][np.sort(rows)])
            return detector_outputs(
                VAEOutlierDetector(random_state=0).fit(X), X, per_feature=False
            )

        yield f"embeddings/{name}/default", embedding

    for name in ("6_cardio", "29_Pima"):
        if not (ADBENCH / f"{name}.npz").exists():
            continue
        for params in (
            dict(noise_model="fixed"),
            dict(noise_model="feature"),
            dict(noise_model="shared"),
            dict(noise_model="full", linear_path=True),
            dict(score_method="reconstruction"),
            dict(score_method="reconstruction_probability"),
            dict(early_stopping=True, batch_norm=True, dropout=0.1),
        ):

            def variant(name=name, params=params):
                X, _ = read_adbench(name, max_rows)
                X = StandardScaler().fit_transform(X)
                detector = VAEOutlierDetector(random_state=0, **params).fit(X)
                out = detector_outputs(detector, X)
                out.update(onnx_outputs(detector, X))
                return out

            label = ",".join(f"{k}={v}" for k, v in params.items())
            yield f"adbench/{name}/{label}", variant

        def stream(name=name):
            X, _ = read_adbench(name, max_rows)
            X = StandardScaler().fit_transform(X)
            detector = VAEOutlierDetector(random_state=0)
            for chunk in np.array_split(X, 3):
                detector.partial_fit(chunk, epochs=2)
            out = {"partial_fit.score_samples": detector.score_samples(X)}
            out.update(history_arrays(detector))
            warm = VAEOutlierDetector(random_state=0, warm_start=True, max_epochs=5)
            warm.fit(X).fit(X)
            out["warm_start.score_samples"] = warm.score_samples(X)
            return out

        yield f"adbench/{name}/partial_fit+warm_start", stream

    def seed_example():
        X, _ = make_anomaly_data(random_state=0)
        pipe = make_pipeline(
            MinMaxScaler(), VAEOutlierDetector(contamination=0.03, random_state=0)
        ).fit(X)
        return {
            "score_samples": pipe.score_samples(X),
            "predict": pipe.predict(X),
            **history_arrays(pipe[-1]),
        }

    yield "examples/seed_anomalies", seed_example

    def wine():
        X = StandardScaler().fit_transform(load_wine().data)
        vae = VAETransformer(n_components=2, random_state=0).fit(X)
        Z = vae.transform(X)
        out = {
            "transform": Z,
            "inverse_transform": vae.inverse_transform(Z),
            "score": np.array(vae.score(X)),
            "reconstruction_error": vae.reconstruction_error(X, per_feature=True),
            **history_arrays(vae),
        }
        out.update(roundtrip_outputs(vae, X, "transform"))
        out.update(onnx_outputs(vae, X))
        return out

    yield "examples/wine_compression", wine

    def digits_callbacks():
        X = StandardScaler().fit_transform(load_digits().data)
        vae = VAETransformer(
            n_components=2,
            hidden_layer_sizes=(128, 64),
            batch_norm=True,
            dropout=0.1,
            kl_warmup_epochs=15,
            lr=5e-3,
            batch_size=64,
            max_epochs=30,
            n_iter_no_change=8,
            random_state=0,
        ).fit(X)
        return {"transform": vae.transform(X), **history_arrays(vae)}

    yield "examples/training_callbacks", digits_callbacks

    for name in ("6_cardio", "31_satimage-2", "18_Ionosphere", "4_breastw"):
        if not (ADBENCH / f"{name}.npz").exists():
            continue

        def compression(name=name):
            X, _ = read_adbench(name, max_rows)
            X = StandardScaler().fit_transform(X)
            vae = VAETransformer(n_components=5, random_state=0).fit(X)
            Z = vae.transform(X)
            return {
                "transform": Z,
                "inverse_transform": vae.inverse_transform(Z),
                **history_arrays(vae),
            }

        yield f"compression/{name}/k=5", compression

    for name in TABLES:
        if read_table(name) is None:
            continue

        def table_detection(name=name):
            frame, _ = read_table(name)
            frame = frame.sample(min(max_rows, len(frame)), random_state=0)
            detector = VAEOutlierDetector(random_state=0).fit(frame)
            out = detector_outputs(detector, frame)
            out.update(roundtrip_outputs(detector, frame, "score_samples"))
            return out

        def table_imputation(name=name, share=0.2):
            frame, _ = read_table(name)
            frame = frame.sample(min(max_rows, len(frame)), random_state=0)
            holey, _ = hide_cells(frame, share, 0)
            out = {}
            for label, params in (("default", {}), ("n_draws=0", dict(n_draws=0))):
                imputer = VAEImputer(random_state=0, **params).fit(holey)
                filled = pd.DataFrame(imputer.transform(holey))
                for column in filled:
                    values = filled[column].to_numpy()
                    if values.dtype == object:
                        values = values.astype(str)
                    out[f"{label}.transform.{column}"] = values
                out.update(
                    {f"{label}.{k}": v for k, v in history_arrays(imputer).items()}
                )
            return out

        yield f"tables/{name}/detection", table_detection
        yield f"tables/{name}/imputation", table_imputation

    for name in ("6_cardio", "29_Pima"):
        if not (ADBENCH / f"{name}.npz").exists():
            continue

        def numeric_imputation(name=name):
            X, _ = read_adbench(name, max_rows)
            X = StandardScaler().fit_transform(X)
            holey = X.copy()
            holey[np.random.RandomState(0).uniform(size=X.shape) < 0.2] = np.nan
            imputer = VAEImputer(random_state=0).fit(holey)
            detector = VAEOutlierDetector(random_state=0).fit(holey)
            return {
                "imputer.transform": imputer.transform(holey),
                **history_arrays(imputer),
                "detector.score_samples": detector.score_samples(holey),
                "detector.reconstruction_error": detector.reconstruction_error(
                    holey, per_feature=True
                ),
            }

        yield f"adbench/{name}/missing_cells", numeric_imputation


def run(max_rows: int) -> dict:
    torch.set_num_threads(1)
    results = {}
    for name, fn in workloads(max_rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = fn()
        for key, value in outputs.items():
            results[f"{name}::{key}"] = np.asarray(value)
        print(f"{name}: {len(outputs)} outputs", flush=True)
    return results


def compare(reference: dict, current: dict) -> bool:
    ok = True
    for key in sorted(set(reference) | set(current)):
        if key not in current or key not in reference:
            side = "current" if key not in current else "reference"
            print(f"MISSING in {side}: {key}")
            ok = False
            continue
        a, b = reference[key], current[key]
        same = a.shape == b.shape and (
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
        if not same:
            ok = False
            detail = ""
            if a.shape == b.shape and a.dtype.kind in "fc":
                detail = f" (max abs diff {np.nanmax(np.abs(a - b)):.3g})"
            print(f"DIFFERENT: {key}{detail}")
    print(
        f"{'PASS' if ok else 'FAIL'}: {len(reference)} reference outputs, "
        f"{len(current)} current, all identical: {ok}"
    )
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the outputs to this .npz")
    group.add_argument("--compare", type=Path, help="compare with this .npz")
    parser.add_argument("--max-rows", type=int, default=800)
    args = parser.parse_args(argv)
    results = run(args.max_rows)
    if args.save:
        np.savez_compressed(args.save, **results)
        print(f"wrote {len(results)} outputs to {args.save}")
        return 0
    with np.load(args.compare, allow_pickle=False) as reference:
        return 0 if compare(dict(reference), results) else 1


if __name__ == "__main__":
    sys.exit(main())
