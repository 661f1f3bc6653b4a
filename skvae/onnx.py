"""Export fitted skvae estimators to ONNX through skl2onnx.

Importing this module registers converters for :class:`~skvae.VAETransformer` and
:class:`~skvae.VAEOutlierDetector` with skl2onnx, so ``skl2onnx.to_onnx`` converts
them, alone or at the end of a scikit-learn pipeline, the way it converts
scikit-learn's own estimators. The network is written with ONNX operators from the
fitted torch module's layers and buffers at conversion time (no ``torch.onnx``):
the exported graph needs only an ONNX runtime, no Python and no torch.

Outputs, for ``n`` input rows:

- ``VAETransformer``: ``variable``, the posterior mean (``transform``), shape
  ``(n, n_components_)``. :func:`inverse_transform_to_onnx` exports the decoder
  (``inverse_transform``) as a model of its own.
- ``VAEOutlierDetector``, as skl2onnx exports
  :class:`~sklearn.ensemble.IsolationForest`: ``label`` (int64, +1 inlier / -1
  outlier, ``predict``) and ``scores`` (``decision_function``), both of shape
  ``(n, 1)``; with the option ``{"score_samples": True}`` a third output,
  ``score_samples``. Every ``score_method`` is exported, "reconstruction_probability"
  included: its ``n_draws`` latent draws are fixed at fit time (seeded with
  ``seed_``), so they are stored in the graph as a constant.

Scores are computed in the dtype the network was fitted in, as skvae does, and
returned in the input's dtype (float32 or float64).

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> import skvae.onnx  # registers the converters
>>> from skvae import VAEOutlierDetector
>>> X = np.random.RandomState(0).normal(size=(200, 4)).astype(np.float32)
>>> pipe = make_pipeline(StandardScaler(),
...                      VAEOutlierDetector(max_epochs=5, random_state=0)).fit(X)
>>> onx = to_onnx(pipe, X[:1], options={VAEOutlierDetector: {"score_samples": True}})
>>> session = ort.InferenceSession(onx.SerializeToString(),
...                                providers=["CPUExecutionProvider"])
>>> [output.name for output in session.get_outputs()]
['label', 'scores', 'score_samples']
>>> label, scores, score_samples = session.run(None, {"X": X})
>>> bool(np.allclose(score_samples[:, 0], pipe.score_samples(X), rtol=1e-5))
True
>>> bool(np.array_equal(label[:, 0], pipe.predict(X)))
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

try:
    from skl2onnx import get_model_alias, update_registered_converter
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxCast,
        OnnxClip,
        OnnxElu,
        OnnxErf,
        OnnxExp,
        OnnxGreater,
        OnnxIdentity,
        OnnxLeakyRelu,
        OnnxLess,
        OnnxLog,
        OnnxMatMul,
        OnnxMul,
        OnnxNeg,
        OnnxReduceMaxApi18,
        OnnxReduceSumApi11,
        OnnxRelu,
        OnnxReshape,
        OnnxSelu,
        OnnxSigmoid,
        OnnxSub,
        OnnxTanh,
        OnnxWhere,
    )
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        guess_numpy_type,
        guess_proto_type,
        guess_tensor_type,
    )
    from skl2onnx.common.utils import check_input_and_output_types
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skvae.onnx needs skl2onnx, onnx and onnxruntime; install them with "
        "pip install 'skvae[onnx]'."
    ) from exc

from ._module import _LOG_VAR_MAX, _LOG_VAR_MIN
from ._outlier import VAEOutlierDetector
from ._scores import SeededDraws
from ._transformer import VAETransformer

__all__ = ["inverse_transform_to_onnx", "register_converters"]

_PROTO_TYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 11}
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_TENSOR_TYPES = {
    np.dtype(np.float32): FloatTensorType,
    np.dtype(np.float64): DoubleTensorType,
}


class _Network:
    """Writes a fitted :class:`~skvae._module.VAEModule` as ONNX operators.

    Constants come from the module as it is at conversion time (weights, batch
    normalisation statistics, the decoder's noise variances), in the module's dtype:
    the graph computes in that dtype, as skvae's own inference does.
    """

    def __init__(self, estimator, opv: int):
        module = estimator.net_.module_
        if (
            getattr(estimator, "table_encoder_", None) is not None
            or module.cardinalities
            or module.missing_input
        ):
            # The graph knows only numeric inputs: exporting such a model would
            # score the encoded table wrongly, silently.
            raise NotImplementedError(
                f"skvae.onnx exports {type(estimator).__name__} models fitted on "
                "numeric arrays without missing cells; this one was fitted on a "
                "table with categorical columns or missing values. To export, encode "
                "the table before skvae (OneHotEncoder and SimpleImputer in a "
                "ColumnTransformer) and fit on the numeric result."
            )
        self.module = module
        self.opv = opv
        self.dtype = torch.empty(0, dtype=next(module.parameters()).dtype).numpy().dtype
        self.proto = _PROTO_TYPES[self.dtype]

    def const(self, value) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        return np.asarray(value, dtype=self.dtype)

    def cast(self, node, proto: int):
        return OnnxCast(node, to=proto, op_version=self.opv)

    def layers(self, node, layer: nn.Module):
        """Apply ``layer`` (a Sequential is walked layer by layer) in eval mode."""
        opv, const = self.opv, self.const
        if isinstance(layer, nn.Sequential):
            for sublayer in layer:
                node = self.layers(node, sublayer)
            return node
        if isinstance(layer, nn.Linear):
            # MatMul rather than Gemm: it broadcasts over the draws axis of the
            # reconstruction probability's (n, n_draws, width) tensors too.
            product = OnnxMatMul(node, const(layer.weight.T), op_version=opv)
            if layer.bias is None:
                return product
            return OnnxAdd(product, const(layer.bias), op_version=opv)
        if isinstance(layer, nn.BatchNorm1d):
            # Evaluation mode folded to x * scale + shift, as torch's CPU kernel does.
            with torch.no_grad():
                scale = torch.rsqrt(layer.running_var + layer.eps)
                if layer.weight is not None:
                    scale = scale * layer.weight
                shift = -layer.running_mean * scale
                if layer.bias is not None:
                    shift = shift + layer.bias
            scaled = OnnxMul(node, const(scale), op_version=opv)
            return OnnxAdd(scaled, const(shift), op_version=opv)
        if isinstance(layer, (nn.Identity, nn.Dropout)):
            return node  # dropout is off in evaluation mode
        if isinstance(layer, nn.ReLU):
            return OnnxRelu(node, op_version=opv)
        if isinstance(layer, nn.Tanh):
            return OnnxTanh(node, op_version=opv)
        if isinstance(layer, nn.Sigmoid):
            return OnnxSigmoid(node, op_version=opv)
        if isinstance(layer, (nn.LeakyReLU, nn.ELU, nn.SELU)):
            return self.piecewise_activation(node, layer)
        if isinstance(layer, nn.GELU) and layer.approximate == "none":
            return self.gelu(node)
        raise NotImplementedError(
            f"skvae.onnx cannot convert the layer {layer!r}; the converter knows "
            "Linear, BatchNorm1d, Dropout, Identity and the activations of "
            "skvae._module.ACTIVATIONS."
        )

    def piecewise_activation(self, node, layer: nn.Module):
        """LeakyReLU, ELU and SELU; onnxruntime has float32 kernels only for their
        operators, so float64 networks spell them out with Where."""
        opv, const = self.opv, self.const
        if isinstance(layer, nn.LeakyReLU):
            alpha, scale = layer.negative_slope, 1.0
        elif isinstance(layer, nn.ELU):
            alpha, scale = layer.alpha, 1.0
        else:  # torch's SELU constants (ONNX's defaults are their float32 roundings)
            alpha, scale = _SELU_ALPHA, _SELU_SCALE
        if self.dtype == np.float32:
            if isinstance(layer, nn.LeakyReLU):
                return OnnxLeakyRelu(node, alpha=float(alpha), op_version=opv)
            if isinstance(layer, nn.ELU):
                return OnnxElu(node, alpha=float(alpha), op_version=opv)
            return OnnxSelu(node, alpha=alpha, gamma=scale, op_version=opv)
        if isinstance(layer, nn.LeakyReLU):
            negative = OnnxMul(node, const(alpha), op_version=opv)
        else:
            expm1 = OnnxSub(OnnxExp(node, op_version=opv), const(1.0), op_version=opv)
            negative = OnnxMul(expm1, const(alpha), op_version=opv)
        positive = OnnxGreater(node, const(0.0), op_version=opv)
        activated = OnnxWhere(positive, node, negative, op_version=opv)
        if scale == 1.0:
            return activated
        return OnnxMul(activated, const(scale), op_version=opv)

    def gelu(self, node):
        """``0.5 x (1 + erf(x / sqrt 2))`` with Erf (opset 9; the Gelu operator needs
        opset 20). onnxruntime's Erf is float32 only, so a float64 network computes
        that one function in float32 (relative error about 1e-7)."""
        opv, const = self.opv, self.const
        scaled = OnnxMul(node, const(1.0 / math.sqrt(2.0)), op_version=opv)
        if self.dtype == np.float32:
            erf = OnnxErf(scaled, op_version=opv)
        else:
            erf = self.cast(OnnxErf(self.cast(scaled, 1), op_version=opv), self.proto)
        half_x = OnnxMul(node, const(0.5), op_version=opv)
        return OnnxMul(half_x, OnnxAdd(erf, const(1.0), op_version=opv), op_version=opv)

    def encode(self, x):
        """Mean and (clamped) log-variance of q(z|x)."""
        hidden = self.layers(x, self.module.encoder)
        log_var = OnnxClip(
            self.layers(hidden, self.module.log_var),
            self.const(_LOG_VAR_MIN),
            self.const(_LOG_VAR_MAX),
            op_version=self.opv,
        )
        mean = self.layers(hidden, self.module.mean)
        if self.module.linear_path:
            linear = self.layers(x, self.module.linear_mean)
            mean = OnnxAdd(mean, linear, op_version=self.opv)
        return mean, log_var

    def decode(self, z):
        """``VAEModule.decode``: the network, plus the linear path before the output
        activation."""
        if not self.module.linear_path:
            return self.layers(z, self.module.decoder)
        network, output_layer, activation = self.module.decoder
        output = self.layers(self.layers(z, network), output_layer)
        linear = self.layers(z, self.module.linear_decoder)
        return self.layers(OnnxAdd(output, linear, op_version=self.opv), activation)

    def sum_last(self, node, keepdims: int):
        return OnnxReduceSumApi11(
            node, axes=[-1], keepdims=keepdims, op_version=self.opv
        )

    def op(self, name: str, *inputs):
        """An ONNX node ``name`` (a key of ``_OPS``) of ``inputs``; what the noise
        models' ``onnx_excess_nll`` build their graphs with."""
        return _OPS[name](*inputs, op_version=self.opv)

    def excess_nll(self, reconstruction, x, keepdims: int = 1):
        """The noise's ``excess_nll`` of ``x`` around ``reconstruction``
        (``DiagonalGaussian`` / ``FullGaussian.onnx_excess_nll``)."""
        with torch.no_grad():
            noise = self.module.noise.score_noise()
        residual = OnnxSub(reconstruction, x, op_version=self.opv)
        return noise.onnx_excess_nll(self, residual, keepdims)

    def nll_offset(self):
        with torch.no_grad():
            noise = self.module.noise.score_noise()
            return self.const(noise.offset(self.module.n_numeric))

    def kl_divergence(self, mean, log_var):
        """``_loss.kl_divergence``: KL(N(mean, exp(log_var)) || N(0, I)), (n, 1)."""
        opv = self.opv
        terms = OnnxSub(
            OnnxSub(
                OnnxAdd(
                    OnnxMul(mean, mean, op_version=opv),
                    OnnxExp(log_var, op_version=opv),
                    op_version=opv,
                ),
                self.const(1.0),
                op_version=opv,
            ),
            log_var,
            op_version=opv,
        )
        return OnnxMul(self.sum_last(terms, 1), self.const(0.5), op_version=opv)

    def negative_score(self, x, estimator):
        """The per-sample value ``score_samples`` negates, shape (n, 1)."""
        method = estimator.score_method
        if method not in _SCORES:
            raise NotImplementedError(
                f"skvae.onnx cannot export score_method={method!r}."
            )
        mean, log_var = self.encode(x)
        return _SCORES[method](self, x, mean, log_var, estimator)

    def reconstruction(self, x, mean, log_var, estimator):
        """``_scores.reconstruction_nll``."""
        return self.excess_nll(self.decode(mean), x)

    def negative_elbo(self, x, mean, log_var, estimator):
        """``_scores.negative_elbo``."""
        nll = OnnxAdd(
            self.excess_nll(self.decode(mean), x),
            self.nll_offset(),
            op_version=self.opv,
        )
        return OnnxAdd(nll, self.kl_divergence(mean, log_var), op_version=self.opv)

    def negative_log_reconstruction_probability(self, x, mean, log_var, estimator):
        """``_scores.negative_log_reconstruction_probability`` with the estimator's
        fixed draws: all ``n_draws`` decoded at once on an (n, n_draws, .) tensor."""
        opv, const = self.opv, self.const
        n_components = estimator.n_components_
        eps = SeededDraws(
            estimator.seed_,
            estimator.n_draws,
            n_components,
            next(self.module.parameters()).dtype,
        ).materialize()

        def per_draw_axis(node, width):
            return OnnxReshape(
                node, np.array([-1, 1, width], dtype=np.int64), op_version=opv
            )

        std = OnnxExp(OnnxMul(log_var, const(0.5), op_version=opv), op_version=opv)
        z = OnnxAdd(
            per_draw_axis(mean, n_components),
            OnnxMul(per_draw_axis(std, n_components), const(eps), op_version=opv),
            op_version=opv,
        )
        x_rows = per_draw_axis(x, estimator.n_features_in_)
        nll = OnnxAdd(
            self.excess_nll(self.decode(z), x_rows, keepdims=0),
            self.nll_offset(),
            op_version=opv,
        )
        log_p = OnnxNeg(nll, op_version=opv)  # (n, n_draws)
        peak = OnnxReduceMaxApi18(log_p, axes=[1], keepdims=1, op_version=opv)
        shifted = OnnxExp(OnnxSub(log_p, peak, op_version=opv), op_version=opv)
        log_sum = OnnxLog(
            OnnxReduceSumApi11(shifted, axes=[1], keepdims=1, op_version=opv),
            op_version=opv,
        )
        log_mean_p = OnnxSub(
            OnnxAdd(peak, log_sum, op_version=opv),
            const(math.log(estimator.n_draws)),
            op_version=opv,
        )
        return OnnxNeg(log_mean_p, op_version=opv)


# The graph of each score of ``skvae._scores.SCORES``, by the same name.
_SCORES = {
    "elbo": _Network.negative_elbo,
    "reconstruction": _Network.reconstruction,
    "reconstruction_probability": _Network.negative_log_reconstruction_probability,
}
_OPS = {"Add": OnnxAdd, "MatMul": OnnxMatMul, "Mul": OnnxMul}


def _module_input(network: _Network, variable):
    """The input in the network's dtype (skvae casts it the same way)."""
    if guess_numpy_type(variable.type) == network.dtype:
        return variable
    return network.cast(variable, network.proto)


def _in_output_dtype(network: _Network, node, proto: int, output_names=None):
    if proto == network.proto:
        return OnnxIdentity(node, op_version=network.opv, output_names=output_names)
    return OnnxCast(node, to=proto, op_version=network.opv, output_names=output_names)


# -- VAETransformer --------------------------------------------------------------


def _transformer_shapes(operator) -> None:
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    n_rows = operator.inputs[0].get_first_dimension()
    input_type = operator.inputs[0].type.__class__
    operator.outputs[0].type = input_type([n_rows, operator.raw_operator.n_components_])


def _convert_transformer(scope, operator, container) -> None:
    network = _Network(operator.raw_operator, container.target_opset)
    variable = operator.inputs[0]
    mean, _ = network.encode(_module_input(network, variable))
    _in_output_dtype(
        network,
        mean,
        guess_proto_type(variable.type),
        output_names=operator.outputs[0].full_name,
    ).add_to(scope, container)


# -- VAEOutlierDetector ----------------------------------------------------------


def _parse_detector(scope, model, inputs, custom_parsers=None):
    # skl2onnx's parser for IsolationForest: label and scores, and score_samples
    # when the option asks for it.
    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    score_type = guess_tensor_type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    operator.outputs.append(scope.declare_local_variable("scores", score_type))
    options = scope.get_options(model, dict(score_samples=False))
    if options["score_samples"]:
        operator.outputs.append(
            scope.declare_local_variable(
                "score_samples", guess_tensor_type(inputs[0].type)
            )
        )
    return operator.outputs


def _detector_shapes(operator) -> None:
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([n_rows, 1])
    for output in operator.outputs[1:]:
        output.type.shape = [n_rows, 1]


def _convert_detector(scope, operator, container) -> None:
    detector = operator.raw_operator
    network = _Network(detector, container.target_opset)
    opv = network.opv
    variable = operator.inputs[0]
    proto = guess_proto_type(variable.type)
    out_dtype = guess_numpy_type(variable.type)
    outputs = operator.outputs
    negative = network.negative_score(_module_input(network, variable), detector)
    # As skvae: the score in the network's dtype, then in the input's dtype.
    score_samples = _in_output_dtype(
        network,
        OnnxNeg(negative, op_version=opv),
        proto,
        output_names=outputs[2].full_name if len(outputs) > 2 else None,
    )
    decision = OnnxSub(
        score_samples,
        np.array([detector.offset_], dtype=out_dtype),
        op_version=opv,
        output_names=outputs[1].full_name,
    )
    label = OnnxWhere(
        OnnxLess(decision, np.array([0], dtype=out_dtype), op_version=opv),
        np.array([-1], dtype=np.int64),
        np.array([1], dtype=np.int64),
        op_version=opv,
        output_names=outputs[0].full_name,
    )
    label.add_to(scope, container)
    decision.add_to(scope, container)
    if len(outputs) > 2:
        score_samples.add_to(scope, container)


# -- inverse_transform -------------------------------------------------------------


def inverse_transform_to_onnx(
    transformer: VAETransformer, dtype=np.float32, target_opset: int | None = None
):
    """Export a fitted transformer's decoder, ``inverse_transform``, to ONNX.

    A pipeline's ONNX graph runs forward (``transform``), so the decoder is a model of
    its own: input ``X`` of shape ``(n, n_components_)``, output ``variable`` of shape
    ``(n, n_features_in_)``, both in ``dtype``.

    Parameters
    ----------
    transformer : VAETransformer
        A fitted transformer.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Type of the model's input and output.
    target_opset : int, default=None
        ONNX opset; None is the latest one skl2onnx was tested with.

    Returns
    -------
    onx : onnx.ModelProto

    Examples
    --------
    >>> import numpy as np
    >>> from onnxruntime import InferenceSession
    >>> from skvae import VAETransformer, onnx
    >>> X = np.random.RandomState(0).normal(size=(100, 4)).astype(np.float32)
    >>> vae = VAETransformer(max_epochs=5, random_state=0).fit(X)
    >>> session = InferenceSession(
    ...     onnx.inverse_transform_to_onnx(vae).SerializeToString(),
    ...     providers=["CPUExecutionProvider"])
    >>> Z = vae.transform(X)
    >>> (X_back,) = session.run(None, {"X": Z})
    >>> bool(np.allclose(X_back, vae.inverse_transform(Z), rtol=1e-5, atol=1e-6))
    True
    """
    from skl2onnx import get_latest_tested_opset_version
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(transformer)
    dtype = np.dtype(dtype)
    if dtype not in _TENSOR_TYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    opv = target_opset or get_latest_tested_opset_version()
    network = _Network(transformer, opv)
    proto = _PROTO_TYPES[dtype]
    z = "X" if dtype == network.dtype else network.cast("X", network.proto)
    decoded = _in_output_dtype(
        network, network.decode(z), proto, output_names=["variable"]
    )
    tensor_type = _TENSOR_TYPES[dtype]
    return decoded.to_onnx(
        inputs=[("X", tensor_type([None, transformer.n_components_]))],
        outputs=[("variable", tensor_type([None, transformer.n_features_in_]))],
        target_opset=opv,
    )


def register_converters() -> None:
    """Register skvae's estimators with skl2onnx (done on importing this module).

    Examples
    --------
    >>> from skl2onnx import supported_converters
    >>> from skvae.onnx import register_converters
    >>> register_converters()
    >>> "SkvaeVAEOutlierDetector" in supported_converters()
    True
    """
    update_registered_converter(
        VAETransformer,
        "SkvaeVAETransformer",
        _transformer_shapes,
        _convert_transformer,
    )
    update_registered_converter(
        VAEOutlierDetector,
        "SkvaeVAEOutlierDetector",
        _detector_shapes,
        _convert_detector,
        parser=_parse_detector,
        options={"score_samples": [False, True]},
    )


register_converters()
