"""Speed of skvae against a hand-written torch loop and PyOD, as ratios in one run.

Reference workload (issue "Performance"): the seed anomaly data (5000 x 20,
MinMax-scaled, float32), encoder 20 -> 64 -> 32 -> latent 10 with a mirrored decoder,
batch 64, 50 epochs, Adam lr 1e-3, one torch thread.

Every timing is the best of a few interleaved repeats, so a burst of load on the
machine hurts both sides of a ratio alike. Run ``python benchmarks/speed.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae._loss import VAELoss, kl_divergence  # noqa: E402
from skvae._module import VAEModule  # noqa: E402
from skvae.datasets import make_anomaly_data  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
HIDDEN, LATENT, BATCH, EPOCHS, LR = (64, 32), 10, 64, 50, 1e-3
SCORING_ROWS = 1_000_000


def best_of(repeats: int, *functions):
    """Run the functions in turn ``repeats`` times; return each one's best time."""
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            function()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def reference_detector(**overrides) -> VAEOutlierDetector:
    params = dict(
        n_components=LATENT,
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH,
        max_epochs=EPOCHS,
        lr=LR,
        output_activation="sigmoid",
        # The floor trains on every row, untrimmed, at a fixed KL weight and lr.
        trim_fraction=0.0,
        early_stopping=False,
        kl_warmup_epochs=0,
        reduce_lr_on_plateau=False,
        contamination=0.03,
        random_state=0,
    )
    params.update(overrides)
    return VAEOutlierDetector(**params)


def floor_module(n_features: int) -> VAEModule:
    # The detector's default noise ("full" on these 20 features) trains with the
    # fixed variance, so the floor does too.
    return VAEModule(
        n_features, LATENT, HIDDEN, output_activation="sigmoid", noise_model="fixed"
    )


def floor_fit(X: torch.Tensor, epochs: int = EPOCHS, batch: int = BATCH):
    """The minimal hand-written loop: randperm, tensor slices, same module and loss."""
    torch.manual_seed(0)
    module = floor_module(X.shape[1])
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)
    loss_fn = VAELoss()
    module.train()
    for _ in range(epochs):
        shuffled = X[torch.randperm(len(X))]
        for start in range(0, len(X), batch):
            xb = shuffled[start : start + batch]
            loss = loss_fn(module(xb), xb).total(1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return module


def floor_score(module: VAEModule, X: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    """The floor's batched forward pass: the per-sample negative ELBO (the default
    score) under the module's noise (its full covariance for the detector's default
    model), written in place."""
    out = torch.empty(len(X), dtype=X.dtype)
    module.eval()
    with torch.inference_mode():
        noise = module.noise.score_noise()
        for start in range(0, len(X), batch):
            xb = X[start : start + batch]
            mean, log_var = module.encode(xb)
            nll = noise.excess_nll(module.decode(mean), xb) + noise.offset(xb.shape[1])
            out[start : start + len(xb)] = nll + kl_divergence(mean, log_var)
    return out


def onnx_scoring(model, X_big: np.ndarray, repeats: int, say) -> float | None:
    """onnxruntime running the exported detector (skvae.onnx) against skvae's own
    ``score_samples``, both on one thread; returns the time ratio ort / skvae."""
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        import skvae.onnx  # noqa: F401  (registers the converters)
    except ImportError:
        say("\nonnxruntime: not installed (pip install 'skvae[onnx]'); section skipped")
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    onx = to_onnx(
        model, X_big[:1], options={VAEOutlierDetector: {"score_samples": True}}
    )
    session = ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (check,) = session.run(["score_samples"], {"X": X_big[:1000]})
    expected = model.score_samples(X_big[:1000])
    np.testing.assert_allclose(
        check[:, 0], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max()
    )

    def ort_batched(batch: int = 8192):
        for start in range(0, len(X_big), batch):
            session.run(["score_samples"], {"X": X_big[start : start + batch]})

    t_ort, t_ort_batched, t_skvae = best_of(
        repeats,
        lambda: session.run(["score_samples"], {"X": X_big}),
        ort_batched,
        lambda: model.score_samples(X_big),
    )
    say(
        f"\nonnxruntime {ort.__version__} (1 thread), exported detector, score_samples "
        f"of {len(X_big):,} x {X_big.shape[1]}: one call {t_ort:.2f} s, 8,192-row "
        f"calls {t_ort_batched:.2f} s; skvae {t_skvae:.2f} s "
        f"({len(X_big) / min(t_ort, t_ort_batched):,.0f} vs "
        f"{len(X_big) / t_skvae:,.0f} rows/s)"
    )
    return min(t_ort, t_ort_batched) / t_skvae


def verdict(ratio: float, target: float, higher_is_better: bool = False) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    return "PASS" if ok else "FAIL"


def scoring_memory(model_path: str, n_rows: int, n_features: int) -> dict:
    """Peak RSS above the resting one while score_samples runs, in a fresh process.

    Linux resets the peak (VmHWM) when 5 is written to /proc/self/clear_refs, so the
    peak measured covers the scoring call alone.
    """
    code = f"""
import json, pickle, sys
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, {str(ROOT)!r})

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

model = pickle.load(open({model_path!r}, "rb"))
X = np.random.default_rng(0).random(({n_rows}, {n_features}), dtype=np.float32)
model.score_samples(X[:10])
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")
resting = status_kib("VmRSS")
scores = model.score_samples(X)
peak = status_kib("VmHWM")
extra = (peak - resting) / 1024
print(json.dumps({{"extra_mib": extra, "output_mib": scores.nbytes / 2**20}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def small_data(say, repeats: int) -> list[tuple]:
    """Where users wait: conformance checks, tiny fits and tuning grids.

    Every skvae timing is measured next to a scikit-learn reference in the same run.
    """
    import warnings

    from sklearn.datasets import load_wine
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.estimator_checks import check_estimator

    rows = []
    say("\nsmall data (defaults, 1 torch thread):")

    def checks(estimator, on_fail="raise"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_estimator(estimator, on_fail=on_fail)

    # IsolationForest fails one sample-weight check in some scikit-learn versions:
    # it is timed all the same (on_fail=None runs every check and records results).
    (t_iforest,) = best_of(1, lambda: checks(IsolationForest(), on_fail=None))
    for estimator in (VAETransformer(), VAEOutlierDetector(), VAEImputer()):
        (t_checks,) = best_of(1, lambda e=estimator: checks(e))
        ratio = t_checks / t_iforest
        name = type(estimator).__name__
        say(
            f"  check_estimator({name}()) {t_checks:.1f} s, "
            f"check_estimator(IsolationForest()) {t_iforest:.1f} s"
        )
        rows.append(
            (
                f"check_estimator: {name} / IsolationForest",
                ratio,
                "<= 2.0",
                verdict(ratio, 2.0),
            )
        )

    # The demo's split (skvae/__main__.py): Wine, 25% held out, standardized.
    X, y = load_wine(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    models = {}

    def mlp():
        models["mlp"] = MLPRegressor(
            hidden_layer_sizes=(26, 2, 26), max_iter=2000, random_state=0
        ).fit(X_train, X_train)

    def vae():
        models["vae"] = VAETransformer(random_state=0).fit(X_train)

    t_mlp, t_vae = best_of(repeats, mlp, vae)
    mse_mlp = float(np.mean((models["mlp"].predict(X_test) - X_test) ** 2))
    vae_model = models["vae"]
    mse_vae = float(
        np.mean(
            (vae_model.inverse_transform(vae_model.transform(X_test)) - X_test) ** 2
        )
    )
    ratio = t_vae / t_mlp
    say(
        f"  Wine {X_train.shape[0]} x {X_train.shape[1]}: VAETransformer() "
        f"{t_vae:.2f} s ({vae_model.n_iter_} epochs), held-out MSE {mse_vae:.3f}; "
        f"MLPRegressor(26, 2, 26) autoencoder {t_mlp:.2f} s, held-out MSE "
        f"{mse_mlp:.3f}"
    )
    rows.append(
        (
            "fit Wine: VAETransformer / MLPRegressor",
            ratio,
            "<= 3.0",
            verdict(ratio, 3.0),
        )
    )
    rows.append(
        (
            "Wine held-out MSE: VAETransformer",
            mse_vae,
            "<= 0.378",
            verdict(round(mse_vae, 3), 0.378),
        )
    )

    # The seed grid of examples/plot_anomaly_detection.py (4,000 training rows).
    X, y = make_anomaly_data(random_state=0)
    X_train, _, _, _ = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    vae_grid = GridSearchCV(
        make_pipeline(
            MinMaxScaler(), VAEOutlierDetector(contamination=0.03, random_state=0)
        ),
        {
            "vaeoutlierdetector__beta": [0.1, 1.0, 5.0],
            "vaeoutlierdetector__n_components": [2, 5, 10],
        },
        cv=3,
    )

    def mean_score(estimator, X_, y_=None):
        return float(np.mean(estimator.score_samples(X_)))

    forest_grid = GridSearchCV(
        make_pipeline(MinMaxScaler(), IsolationForest(random_state=0)),
        {
            "isolationforest__max_samples": [64, 256, 1024],
            "isolationforest__max_features": [0.5, 0.75, 1.0],
        },
        cv=3,
        scoring=mean_score,
    )
    t_forest, t_grid = best_of(
        1, lambda: forest_grid.fit(X_train), lambda: vae_grid.fit(X_train)
    )
    say(
        f"  seed grid (9 settings, cv=3, {len(X_train):,} rows): skvae {t_grid:.1f} s, "
        f"IsolationForest(max_samples=..., max_features=...) grid {t_forest:.1f} s"
    )
    rows.append(
        ("seed grid: skvae / IsolationForest", t_grid / t_forest, "(info)", "info")
    )
    return rows


def print_rows(say, rows) -> None:
    say("\n| measure | value | target | result |")
    say("|---|---:|---|---|")
    for name, value, target, result in rows:
        say(f"| {name} | {value:.3f} | {target} | {result} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="smaller scaling grid (no n=1e6 x 1000)"
    )
    parser.add_argument(
        "--onnx-only",
        action="store_true",
        help="only the onnxruntime scoring section (needs the onnx extra)",
    )
    parser.add_argument(
        "--check-defaults",
        action="store_true",
        help="also time check_estimator at default settings (minutes)",
    )
    parser.add_argument(
        "--small-only",
        action="store_true",
        help="only the small-data section (check_estimator, Wine, the seed grid)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"skvae speed benchmark, {time.strftime('%Y-%m-%d')}")
    say(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, dtype float32, "
        f"CPU: {os.cpu_count()} cores"
    )
    X, y = make_anomaly_data(random_state=0)
    X_train, X_test, _, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    scaler = MinMaxScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    X_full = np.vstack([X_train, X_test])
    X_full_t = torch.from_numpy(X_full)
    rows = []

    if args.small_only:
        print_rows(say, small_data(say, args.repeats))
        return

    if args.onnx_only:
        X_big = np.random.default_rng(1).random(
            (SCORING_ROWS, X_full.shape[1]), dtype=np.float32
        )
        ratio = onnx_scoring(reference_detector().fit(X_full), X_big, args.repeats, say)
        if ratio is not None:
            say(f"score 1M rows: onnxruntime / skvae = {ratio:.3f}")
        return

    # -- fit ------------------------------------------------------------------
    skvae_model = {}

    def skvae_fit():
        skvae_model["m"] = reference_detector().fit(X_full)

    floor_fit(X_full_t, epochs=1)  # warm-up: first calls pay one-off costs
    reference_detector(max_epochs=1).fit(X_full)
    t_floor, t_skvae = best_of(args.repeats, lambda: floor_fit(X_full_t), skvae_fit)
    fit_ratio = t_skvae / t_floor
    rows.append(("fit: skvae / floor", fit_ratio, "<= 1.10", verdict(fit_ratio, 1.10)))
    say(
        f"\nfit, 5000 x 20, {EPOCHS} epochs: floor {t_floor:.2f} s, "
        f"skvae {t_skvae:.2f} s"
    )

    # -- scoring ----------------------------------------------------------------
    rng = np.random.default_rng(1)
    X_big = rng.random((SCORING_ROWS, X_full.shape[1]), dtype=np.float32)
    X_big_t = torch.from_numpy(X_big)
    model = skvae_model["m"]
    module = model.net_.module_
    model.score_samples(X_big[:100])
    t_floor_s, t_skvae_s = best_of(
        args.repeats,
        lambda: floor_score(module, X_big_t),
        lambda: model.score_samples(X_big),
    )
    np.testing.assert_allclose(
        -model.score_samples(X_big[:1000]),
        floor_score(module, X_big_t[:1000]).numpy(),
        rtol=1e-5,
    )
    score_ratio = t_skvae_s / t_floor_s
    rows.append(
        (
            "score 1M rows: skvae / floor",
            score_ratio,
            "<= 1.20",
            verdict(score_ratio, 1.2),
        )
    )
    say(
        f"score_samples, {SCORING_ROWS:,} x 20: floor {t_floor_s:.2f} s, "
        f"skvae {t_skvae_s:.2f} s"
    )
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        pickle.dump(model, handle)
    memory = scoring_memory(handle.name, SCORING_ROWS, X_full.shape[1])
    os.unlink(handle.name)
    say(
        f"scoring memory: peak extra RSS {memory['extra_mib']:.1f} MiB for an output "
        f"of {memory['output_mib']:.1f} MiB (input {X_big.nbytes / 2**20:.0f} MiB)"
    )

    onnx_ratio = onnx_scoring(model, X_big, args.repeats, say)
    if onnx_ratio is not None:
        rows.append(
            ("score 1M rows: onnxruntime / skvae", onnx_ratio, "(info)", "info")
        )

    # -- levers -------------------------------------------------------------------
    say("\nlevers (each measured here, best of the repeats):")
    for fused in (False, True):

        def adam_loop(fused=fused):
            module = floor_module(20)
            opt = torch.optim.Adam(module.parameters(), lr=LR, fused=fused)
            loss_fn = VAELoss()
            for start in range(0, 5000, BATCH):
                xb = X_full_t[start : start + BATCH]
                loss = loss_fn(module(xb), xb).total(1.0)
                opt.zero_grad()
                loss.backward()
                opt.step()

        (t,) = best_of(args.repeats, adam_loop)
        say(f"  Adam fused={fused!s:<5}: one epoch of the floor loop {t * 1e3:.0f} ms")
    for batch in (BATCH, 1024, 8192, 65536):
        (t,) = best_of(1, lambda b=batch: floor_score(module, X_big_t, batch=b))
        say(f"  inference batch {batch:>6}: 1M rows scored in {t:.2f} s")

    # -- PyOD ---------------------------------------------------------------------
    try:
        from pyod.models.vae import VAE as PyODVAE
    except ImportError:
        say("\nPyOD: not installed (pip install pyod), comparison skipped")
    else:
        pyod = {}

        def pyod_fit():
            pyod["m"] = PyODVAE(
                encoder_neuron_list=list(HIDDEN),
                decoder_neuron_list=list(HIDDEN[::-1]),
                latent_dim=LATENT,
                epoch_num=EPOCHS,
                batch_size=BATCH,
                lr=LR,
                dropout_rate=0.0,
                preprocessing=False,
                output_activation_name="sigmoid",
                contamination=0.03,
                device="cpu",
                verbose=0,
                random_state=0,
            ).fit(X_train)

        skvae_train = {}

        def skvae_train_fit():
            skvae_train["m"] = reference_detector().fit(X_train)

        t_pyod, t_ours = best_of(1, pyod_fit, skvae_train_fit)
        X_score = X_big[:100_000]
        t_pyod_s, t_ours_s = best_of(
            args.repeats,
            lambda: pyod["m"].decision_function(X_score),
            lambda: skvae_train["m"].score_samples(X_score),
        )
        auc_pyod = roc_auc_score(y_test, pyod["m"].decision_function(X_test))
        auc_ours = roc_auc_score(y_test, -skvae_train["m"].score_samples(X_test))
        say(
            f"\nPyOD VAE (capacity=0 default, so its KL term is off), same data and "
            f"architecture: fit {t_pyod:.2f} s vs skvae {t_ours:.2f} s; scoring "
            f"100,000 rows {t_pyod_s:.2f} s vs {t_ours_s:.3f} s; test ROC AUC "
            f"{auc_pyod:.4f} vs {auc_ours:.4f}"
        )
        rows.append(
            (
                "fit: PyOD / skvae",
                t_pyod / t_ours,
                ">= 1.5",
                verdict(t_pyod / t_ours, 1.5, True),
            )
        )
        rows.append(
            (
                "score: PyOD / skvae",
                t_pyod_s / t_ours_s,
                ">= 15",
                verdict(t_pyod_s / t_ours_s, 15, True),
            )
        )
        rows.append(
            (
                "ROC AUC: skvae - PyOD",
                auc_ours - auc_pyod,
                ">= 0",
                verdict(auc_ours - auc_pyod, 0, True),
            )
        )

    # -- scaling ------------------------------------------------------------------
    say("\nscaling (1 epoch of fit at batch 256, and score_samples; seconds):")
    header = ("n", "d", "fit s", "score s", "fit us/row", "score us/row")
    say(
        "  "
        + " ".join(
            f"{h:>{w}}" for h, w in zip(header, (9, 5, 8, 8, 11, 13), strict=True)
        )
    )
    scaling = []
    for d in (10, 100, 1000):
        for n in (1_000, 10_000, 100_000, 1_000_000):
            if args.quick and n * d > 100_000_000 // 2:
                continue
            Xs = np.random.default_rng(n + d).random((n, d), dtype=np.float32)
            est = VAEOutlierDetector(
                max_epochs=1, batch_size=256, early_stopping=False, random_state=0
            )
            start = time.perf_counter()
            est.fit(Xs)
            t_fit = time.perf_counter() - start
            start = time.perf_counter()
            est.score_samples(Xs)
            t_score = time.perf_counter() - start
            scaling.append((n, d, t_fit, t_score))
            say(
                f"  {n:>9,} {d:>5} {t_fit:>8.2f} {t_score:>8.3f} "
                f"{t_fit / n * 1e6:>11.1f} {t_score / n * 1e6:>13.2f}"
            )
            del Xs
    for d in (10, 100, 1000):
        points = [(n, f, s) for n, dd, f, s in scaling if dd == d and n >= 10_000]
        if len(points) >= 2:
            n_, f_, s_ = (np.log(np.array(v)) for v in zip(*points, strict=True))
            fit_slope = np.polyfit(n_, f_, 1)[0]
            score_slope = np.polyfit(n_, s_, 1)[0]
            say(
                f"  d={d}: log-log slope of time in n (n >= 1e4): fit {fit_slope:.2f}, "
                f"score {score_slope:.2f} (1.0 = linear)"
            )

    # -- check_estimator ----------------------------------------------------------
    from sklearn.utils.estimator_checks import check_estimator

    # The configuration of tests/test_common.py: the checks test the API, not the
    # fit, so training is cut short there (as scikit-learn does for its own
    # iterative estimators); the defaults train for thousands of steps per fit.
    fast = dict(max_epochs=5, kl_warmup_epochs=2)
    configurations = [("test-suite settings (max_epochs=5)", fast)]
    if args.check_defaults:
        configurations.append(("default settings", {}))
    for label, params in configurations:
        start = time.perf_counter()
        for estimator in (VAETransformer(**params), VAEOutlierDetector(**params)):
            check_estimator(estimator)
        t_checks = time.perf_counter() - start
        target = "< 60" if params else "(no target)"
        result = verdict(t_checks, 60) if params else "info"
        rows.append((f"check_estimator, both, {label} (s)", t_checks, target, result))

    # -- GPU ------------------------------------------------------------------------
    if torch.cuda.is_available():
        for batch in (BATCH, 4096):
            gpu = reference_detector(device="cuda", batch_size=batch)
            start = time.perf_counter()
            gpu.fit(X_full)
            t_fit = time.perf_counter() - start
            start = time.perf_counter()
            gpu.score_samples(X_big)
            t_score = time.perf_counter() - start
            say(
                f"GPU {torch.cuda.get_device_name()}: batch {batch}: fit "
                f"{len(X_full) * EPOCHS / t_fit:,.0f} rows/s, scoring "
                f"{SCORING_ROWS / t_score:,.0f} rows/s"
            )
    else:
        say("\nGPU: none visible to torch on this machine; GPU rows skipped")

    rows.extend(small_data(say, args.repeats))

    print_rows(say, rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.md").write_text("```\n" + "\n".join(lines) + "\n```\n")
    print(f"\nwritten to {RESULTS / 'speed.md'}")


if __name__ == "__main__":
    main()
