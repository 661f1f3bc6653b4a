"""Tables with categorical columns and missing cells: column typing and encoding.

The network sees one float matrix: the numeric columns first (NaN where missing),
then one one-hot block per categorical column (all zeros where the cell is missing,
or holds a category unseen in ``fit``). :class:`TableEncoder` builds that matrix
from a DataFrame or array and maps decoder outputs back to the original columns.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils.validation import validate_data

from ._checks import validate_numeric_data
from ._columns import MAX_CATEGORIES, ColumnLayout
from .exceptions import invalid_model

_FLOAT_DTYPES = (np.float64, np.float32)


def _is_dataframe(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


#: The dtypes a numeric DataFrame's columns may have for ``feature_dtypes_``.
NUMERIC_DTYPE_NAMES = frozenset(
    [f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)]
    + ["float16", "float32", "float64"]
)


def numeric_frame_dtypes(X) -> list[str] | None:
    """The dtype names of a pandas DataFrame's columns when every one is a NumPy
    number (what :meth:`~skvae._base.BaseVAE.sample` gives back), else None.

    Examples
    --------
    >>> import pandas as pd
    >>> from skvae._tabular import numeric_frame_dtypes
    >>> numeric_frame_dtypes(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.0]}))
    ['int64', 'float64']
    >>> numeric_frame_dtypes([[1, 2]]) is None
    True
    """
    if not _is_dataframe(X):
        return None
    names = [str(dtype) for dtype in X.dtypes]
    return names if all(name in NUMERIC_DTYPE_NAMES for name in names) else None


def check_feature_dtypes(value, n_features_in: int) -> list[str] | None:
    """``feature_dtypes_`` from a saved model: None or ``n_features_in`` names."""
    if value is None:
        return None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != n_features_in
        or not all(isinstance(v, str) and v in NUMERIC_DTYPE_NAMES for v in value)
    ):
        raise invalid_model(
            f"feature_dtypes_ must be None or {n_features_in} numeric dtype names"
        )
    return list(value)


def restore_dtypes(frame, dtypes: list[str] | None):
    """``frame`` (drawn rows) with its numeric columns cast back to ``dtypes``:
    integer columns rounded, unless a drawn cell is missing."""
    if dtypes is None:
        return frame
    for name, dtype in zip(frame.columns, dtypes, strict=True):
        column = frame[name]
        if np.dtype(dtype).kind in "iu":
            if column.isna().any():
                continue
            column = column.round()
        frame[name] = column.astype(dtype)
    return frame


def resolve_categorical(X, categorical_features) -> np.ndarray:
    """Boolean mask of the categorical columns of ``X``, in scikit-learn's terms.

    ``"from_dtype"`` takes the pandas ``category``, ``object``, ``string`` and
    ``bool`` columns of a DataFrame (none for an array); None none; otherwise
    integer indices, a boolean mask or column names, as
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` accepts.

    Examples
    --------
    >>> import pandas as pd
    >>> from skvae._tabular import resolve_categorical
    >>> df = pd.DataFrame({"a": [1.0], "b": ["x"], "c": pd.Categorical(["u"])})
    >>> resolve_categorical(df, "from_dtype").tolist()
    [False, True, True]
    >>> resolve_categorical(df, ["a"]).tolist(), resolve_categorical(df, [2]).tolist()
    ([True, False, False], [False, False, True])
    """
    n_columns = X.shape[1] if hasattr(X, "shape") else len(np.asarray(X[0]))
    mask = np.zeros(n_columns, dtype=bool)
    if categorical_features is None:
        return mask
    if isinstance(categorical_features, str):
        if categorical_features != "from_dtype":
            raise ValueError(
                "categorical_features must be 'from_dtype', None, indices, a boolean "
                f"mask or column names; got {categorical_features!r}."
            )
        if _is_dataframe(X):
            for j, dtype in enumerate(X.dtypes):
                kind = getattr(dtype, "name", str(dtype))
                mask[j] = kind in (
                    "category",
                    "object",
                    "string",
                    "str",
                    "bool",
                    "boolean",
                )
        return mask
    values = np.asarray(categorical_features)
    if values.size == 0:
        return mask
    if values.dtype.kind == "b":
        if values.shape != (n_columns,):
            raise ValueError(
                f"categorical_features as a boolean mask must have {n_columns} "
                f"entries (one per column), got {values.shape[0]}."
            )
        return values.copy()
    if values.dtype.kind in "US" or values.dtype == object:
        if not _is_dataframe(X):
            raise ValueError(
                "categorical_features holds column names, but X has no column names; "
                "pass a DataFrame or use integer indices."
            )
        names = [str(c) for c in X.columns]
        for name in values:
            if str(name) not in names:
                raise ValueError(
                    f"categorical_features names {name!r}, which is not a column of X."
                )
            mask[names.index(str(name))] = True
        return mask
    for index in values:
        if not isinstance(index, Integral) or not -n_columns <= index < n_columns:
            raise ValueError(
                f"categorical_features index {index!r} is out of range for "
                f"{n_columns} columns."
            )
        mask[index] = True
    return mask


def _column(X, j):
    if _is_dataframe(X):
        return X.iloc[:, j]
    return np.asarray(X, dtype=object)[:, j] if np.ndim(X) == 2 else None


def _is_missing(values) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


class TableEncoder:
    """Turn a table into the network's input and decoder outputs back into a table.

    Parameters
    ----------
    is_categorical : ndarray of bool, shape (n_columns,)
        Which columns are categorical.
    standardize : bool, default=False
        Standardize numeric columns inside (mean 0, variance 1 over the observed
        cells); :meth:`inverse_transform` undoes it. The estimators do this when a
        table has categorical columns (the numeric columns of a mixed table are
        rarely on one scale) and the imputer always.

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each categorical column, in the order of the one-hot
        blocks: those of a pandas ``category`` dtype, else the sorted values seen
        in ``fit``.
    mean_, scale_ : ndarray of shape (n_numeric,)
        The standardization of the numeric columns (0 and 1 without it).
    missing_in_fit_ : bool
        Whether any cell was missing in the training data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skvae._tabular import TableEncoder
    >>> df = pd.DataFrame({"size": [1.0, np.nan, 3.0], "colour": ["red", "blue", None]})
    >>> encoder = TableEncoder(np.array([False, True])).fit(df)
    >>> encoder.categories_[0].tolist()
    ['blue', 'red']
    >>> encoder.transform(df)
    array([[ 1.,  0.,  1.],
           [nan,  1.,  0.],
           [ 3.,  0.,  0.]])
    """

    def __init__(self, is_categorical, standardize: bool = False):
        self.is_categorical = np.asarray(is_categorical, dtype=bool)
        self.standardize = standardize

    @property
    def numeric_index(self) -> np.ndarray:
        return np.flatnonzero(~self.is_categorical)

    @property
    def categorical_index(self) -> np.ndarray:
        return np.flatnonzero(self.is_categorical)

    @property
    def n_numeric(self) -> int:
        return int((~self.is_categorical).sum())

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.categories_)

    @property
    def layout(self) -> ColumnLayout:
        """Where the encoded matrix holds each column."""
        return ColumnLayout(self.n_numeric, self.cardinalities)

    def _name(self, j: int) -> str:
        names = getattr(self, "column_names_", None)
        return f"{names[j]!r}" if names is not None else f"{j}"

    def fit(self, X) -> TableEncoder:
        self.column_names_ = [str(c) for c in X.columns] if _is_dataframe(X) else None
        self.dtypes_ = list(X.dtypes) if _is_dataframe(X) else None
        self.categories_ = []
        for j in self.categorical_index:
            column = _column(X, j)
            missing = _is_missing(column)
            dtype = getattr(column, "dtype", None)
            if getattr(dtype, "name", None) == "category":
                categories = np.asarray(dtype.categories, dtype=object)
            else:
                seen = np.asarray(column, dtype=object)[~missing]
                kinds = {type(v).__name__ for v in seen if not isinstance(v, str)}
                if kinds and any(isinstance(v, str) for v in seen):
                    raise TypeError(
                        f"Categorical column {self._name(j)} mixes strings with "
                        f"{', '.join(sorted(kinds))} values; convert it to one type "
                        "first, e.g. X[column].astype(str)."
                    )
                categories = np.asarray(sorted(set(seen.tolist())), dtype=object)
            if len(categories) == 0:
                raise ValueError(
                    f"Categorical column {self._name(j)} has no observed value in the "
                    "training data; drop it."
                )
            if len(categories) > MAX_CATEGORIES:
                raise ValueError(
                    f"Categorical column {self._name(j)} has {len(categories)} "
                    f"categories, more than the {MAX_CATEGORIES} a softmax head "
                    "supports here. Group rare categories first (e.g. "
                    "OneHotEncoder(max_categories=...)), or drop the column if it "
                    "is an identifier."
                )
            self.categories_.append(categories)
        numeric = self._numeric(X)
        observed = ~np.isnan(numeric)
        empty = np.flatnonzero(~observed.any(axis=0)) if len(numeric) else []
        if len(empty):
            raise ValueError(
                f"Column {self._name(self.numeric_index[empty[0]])} has no observed "
                "value in the training data; drop it."
            )
        if self.standardize and numeric.shape[1]:
            self.mean_ = np.nanmean(numeric, axis=0)
            scale = np.nanstd(numeric, axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(numeric.shape[1])
            self.scale_ = np.ones(numeric.shape[1])
        encoded = self.transform(X)
        self.missing_in_fit_ = not bool(self.observed(encoded).all())
        return self

    def _numeric(self, X) -> np.ndarray:
        if _is_dataframe(X):
            import pandas as pd

            columns = X.iloc[:, self.numeric_index]
            try:
                return np.asarray(
                    columns.apply(lambda c: pd.to_numeric(c, errors="raise")).astype(
                        np.float64
                    ),
                    dtype=np.float64,
                ).reshape(len(X), -1)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"A numeric column holds non-numbers ({exc}). Name it in "
                    "categorical_features, or give it the 'category' dtype."
                ) from exc
        array = np.asarray(X)
        try:
            return array[:, self.numeric_index].astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"A numeric column holds non-numbers ({exc}). List it in "
                "categorical_features."
            ) from exc

    def transform(self, X) -> np.ndarray:
        """The network's input: standardized numeric columns (NaN where missing),
        then one-hot blocks. A category not seen in ``fit`` is encoded like a
        missing cell (all zeros), as ``OneHotEncoder(handle_unknown="ignore")``
        encodes it, and so is left out of the likelihood."""
        n_rows = len(X)
        numeric = (self._numeric(X) - self.mean_) / self.scale_
        blocks = [numeric]
        for j, categories in zip(self.categorical_index, self.categories_, strict=True):
            column = np.asarray(_column(X, j), dtype=object)
            lookup = {value: k for k, value in enumerate(categories.tolist())}
            codes = np.array(
                [-1 if _is_missing(v) else lookup.get(v, -1) for v in column.tolist()],
                dtype=np.int64,
            )
            block = np.zeros((n_rows, len(categories)))
            known = codes >= 0
            block[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(block)
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)

    def observed(self, encoded: np.ndarray) -> np.ndarray:
        """Which cells are observed, numeric columns then categorical ones."""
        return self.layout.observed(encoded)

    def to_original_order(self, per_column: np.ndarray) -> np.ndarray:
        """Reorder columns from (numeric, categorical) to the table's own order."""
        order = np.concatenate([self.numeric_index, self.categorical_index])
        out = np.empty_like(per_column)
        out[:, order] = per_column
        return out

    def inverse_transform(self, decoded: np.ndarray, as_frame: bool = False):
        """Decoder outputs (numeric means, categorical logits or probabilities)
        back to a table: numeric values in the original units, and the most
        probable category of each categorical column.

        Returns an object array (a float array when every column is numeric), or a
        DataFrame with the original column names and dtypes when ``as_frame``.
        """
        layout = self.layout
        numeric = layout.numeric(decoded) * self.scale_ + self.mean_
        columns: dict[int, np.ndarray] = dict(
            zip(self.numeric_index.tolist(), numeric.T, strict=True)
        )
        for j, categories, block in zip(
            self.categorical_index,
            self.categories_,
            layout.blocks(decoded),
            strict=True,
        ):
            values = categories[block.argmax(axis=1)]
            missing = np.isnan(block).any(axis=1)
            if missing.any():  # rows drawn with a missing cell (sample)
                values = np.where(missing, None, values.astype(object))
            columns[int(j)] = values
        ordered = [columns[j] for j in range(len(self.is_categorical))]
        if as_frame:
            import pandas as pd

            names = self.column_names_ or [f"x{j}" for j in range(len(ordered))]
            frame = pd.DataFrame(dict(zip(names, ordered, strict=True)))
            if self.dtypes_ is not None:
                for name, dtype in zip(names, self.dtypes_, strict=True):
                    frame[name] = _as_dtype(frame[name], dtype)
            return frame
        if not self.is_categorical.any():
            return numeric
        return np.column_stack([np.asarray(c, dtype=object) for c in ordered])


def _as_dtype(series, dtype):
    kind = getattr(dtype, "name", str(dtype))
    if kind == "category":
        import pandas as pd

        return pd.Series(
            pd.Categorical(series, categories=dtype.categories), index=series.index
        )
    if np.dtype(dtype).kind in "iu" if isinstance(dtype, np.dtype) else False:
        if series.isna().any():  # missing cells drawn by sample: floats, as read
            return series.round()
        return series.round().astype(dtype)
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _check_table_shape(estimator, X):
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(
            f"Expected a 2D table, got shape {shape}; reshape a single feature with "
            "X.reshape(-1, 1)."
        )
    if shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is "
            f"required by {type(estimator).__name__}."
        )


def validate_table(estimator, X, *, reset: bool, standardize: bool = False, **kwargs):
    """Validate ``X`` and return the network's input as a float array.

    Numeric data go through scikit-learn's ``validate_data`` (NaN allowed, every
    other check kept). With categorical columns (``estimator.categorical_features``)
    a :class:`TableEncoder` fitted at ``reset`` encodes them, and is kept as
    ``table_encoder_`` (None for numeric data that need no encoding).
    """
    if reset:
        is_categorical = (
            resolve_categorical(X, estimator.categorical_features)
            if hasattr(X, "shape") and len(X.shape) == 2
            else np.zeros(0, dtype=bool)
        )
    else:
        encoder = estimator.table_encoder_
        is_categorical = (
            encoder.is_categorical if encoder is not None else np.zeros(0, bool)
        )
    if not is_categorical.any():
        X = validate_numeric_data(
            estimator, X, reset=reset, ensure_all_finite="allow-nan", **kwargs
        )
        if reset:
            empty = np.flatnonzero(np.isnan(X).all(axis=0)) if len(X) else []
            if len(empty):
                raise ValueError(
                    f"Column {empty[0]} of X has no observed value (all NaN); drop it."
                )
            estimator.table_encoder_ = (
                TableEncoder(np.zeros(X.shape[1], dtype=bool), standardize=True).fit(X)
                if standardize
                else None
            )
        encoder = estimator.table_encoder_
        if encoder is None:
            return X
        return encoder.transform(X).astype(X.dtype, copy=False)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    _check_table_shape(estimator, X)
    if reset:
        estimator.table_encoder_ = TableEncoder(is_categorical, standardize=True).fit(X)
    encoded = estimator.table_encoder_.transform(X)
    if np.isinf(encoded).any():
        raise ValueError("Input X contains infinity; remove or clip those cells.")
    return encoded


def module_layout(encoder: TableEncoder | None, X: np.ndarray) -> ColumnLayout:
    """The layout of the network's matrix ``X``: the numeric width, the categorical
    cardinalities and whether the encoder gets the observed mask (when any
    training cell is missing)."""
    if encoder is None:
        return ColumnLayout(X.shape[1], (), bool(np.isnan(X).any()))
    layout = encoder.layout
    return ColumnLayout(
        layout.n_numeric,
        layout.cardinalities,
        bool((~layout.observed(X)).any()),
    )


def numeric_variance(X: np.ndarray, layout: ColumnLayout) -> np.ndarray:
    """Variance of each numeric column over its observed cells."""
    numeric = layout.numeric(X)
    if not np.isnan(numeric).any():
        return np.var(numeric, axis=0)
    return np.nanvar(numeric, axis=0)


# -- the encoder's state as plain values (pickle, skops and skvae.save) -------------

_MAX_DTYPE_NAME = 64


def _plain_scalar(value):
    """A category as a JSON value (str, int, float, bool), or raise TypeError."""
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return float(value)
    raise TypeError(value)


def _dtype_state(dtype):
    if getattr(dtype, "name", None) == "category":
        return {
            "categories": [_plain_scalar(v) for v in dtype.categories],
            "ordered": bool(dtype.ordered),
        }
    return str(dtype)


def encoder_state(encoder: TableEncoder | None):
    """``encoder``'s fitted state as plain JSON values, or raise TypeError when a
    category or dtype is not one (e.g. timestamps as categories)."""
    if encoder is None:
        return None
    return {
        "is_categorical": [bool(v) for v in encoder.is_categorical],
        "standardize": bool(encoder.standardize),
        "column_names": None
        if encoder.column_names_ is None
        else [str(c) for c in encoder.column_names_],
        "dtypes": None
        if encoder.dtypes_ is None
        else [_dtype_state(d) for d in encoder.dtypes_],
        "categories": [[_plain_scalar(v) for v in c] for c in encoder.categories_],
        "mean": [float(v) for v in encoder.mean_],
        "scale": [float(v) for v in encoder.scale_],
        "missing_in_fit": bool(encoder.missing_in_fit_),
    }


_ENCODER_KEYS = {
    "is_categorical",
    "standardize",
    "column_names",
    "dtypes",
    "categories",
    "mean",
    "scale",
    "missing_in_fit",
}


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _float_list(value, n: int, name: str, positive: bool = False) -> np.ndarray:
    if not isinstance(value, (list, np.ndarray)) or len(value) != n:
        raise invalid_model(f"table encoder {name} must be a list of {n} numbers")
    if not all(
        isinstance(v, (int, float, np.integer, np.floating)) and not _is_bool(v)
        for v in value
    ):
        raise invalid_model(f"table encoder {name} must hold numbers only")
    array = np.asarray(value, dtype=np.float64).reshape(n)
    if not np.isfinite(array).all() or (positive and (array <= 0).any()):
        raise invalid_model(f"table encoder {name} holds non-finite or invalid values")
    return array


def _dtype_from_state(value):
    import pandas as pd

    if isinstance(value, dict):
        if set(value) != {"categories", "ordered"} or not _is_bool(value["ordered"]):
            raise invalid_model("table encoder dtype is not a categorical dtype")
        categories = _categories(value["categories"], "dtype categories")
        try:
            return pd.CategoricalDtype(list(categories), ordered=bool(value["ordered"]))
        except (TypeError, ValueError) as exc:
            raise invalid_model(f"table encoder dtype is invalid ({exc})") from None
    if not isinstance(value, str) or len(value) > _MAX_DTYPE_NAME:
        raise invalid_model("table encoder dtypes must be dtype names")
    try:
        return pd.api.types.pandas_dtype(value)
    except (TypeError, ValueError) as exc:
        raise invalid_model(
            f"table encoder dtype {value!r} is unknown ({exc})"
        ) from None


def _categories(value, name: str) -> np.ndarray:
    if (
        not isinstance(value, (list, np.ndarray))
        or not 1 <= len(value) <= MAX_CATEGORIES
    ):
        raise invalid_model(
            f"table encoder {name} must be a list of 1 to {MAX_CATEGORIES} values"
        )
    for v in value:
        try:
            _plain_scalar(v)
        except TypeError:
            raise invalid_model(
                f"table encoder {name} must hold strings, numbers or bools"
            ) from None
    if len({(type(v).__name__, v) for v in value}) != len(value):
        raise invalid_model(f"table encoder {name} repeat a value")
    out = np.empty(len(value), dtype=object)
    out[:] = list(value)
    return out


def encoder_from_state(state, n_features_in: int) -> TableEncoder | None:
    """The :class:`TableEncoder` that :func:`encoder_state` described, checked
    against ``n_features_in``; ValueError on any malformed value."""
    if state is None:
        return None
    if isinstance(state, TableEncoder):  # pickled with categories JSON cannot hold
        return state
    if not isinstance(state, dict) or set(state) != _ENCODER_KEYS:
        raise invalid_model("the table encoder lacks or has unexpected entries")
    mask = state["is_categorical"]
    if (
        not isinstance(mask, (list, np.ndarray))
        or len(mask) != n_features_in
        or not all(_is_bool(v) for v in mask)
    ):
        raise invalid_model(
            f"table encoder is_categorical must be {n_features_in} booleans"
        )
    for key in ("standardize", "missing_in_fit"):
        if not _is_bool(state[key]):
            raise invalid_model(f"table encoder {key} must be a boolean")
    encoder = TableEncoder(np.asarray(mask, dtype=bool), bool(state["standardize"]))
    names = state["column_names"]
    if names is not None and (
        not isinstance(names, (list, np.ndarray))
        or len(names) != n_features_in
        or not all(isinstance(v, str) for v in names)
    ):
        raise invalid_model(
            f"table encoder column_names must be {n_features_in} strings"
        )
    encoder.column_names_ = None if names is None else list(names)
    dtypes = state["dtypes"]
    if dtypes is not None and (
        not isinstance(dtypes, (list, np.ndarray)) or len(dtypes) != n_features_in
    ):
        raise invalid_model(f"table encoder dtypes must be {n_features_in} dtypes")
    encoder.dtypes_ = None if dtypes is None else [_dtype_from_state(d) for d in dtypes]
    categories = state["categories"]
    n_categorical = len(encoder.categorical_index)
    if not isinstance(categories, (list, np.ndarray)) or len(categories) != (
        n_categorical
    ):
        raise invalid_model(
            f"table encoder categories must be {n_categorical} lists, one per "
            "categorical column"
        )
    encoder.categories_ = [_categories(c, "categories") for c in categories]
    encoder.mean_ = _float_list(state["mean"], encoder.n_numeric, "mean")
    encoder.scale_ = _float_list(
        state["scale"], encoder.n_numeric, "scale", positive=True
    )
    encoder.missing_in_fit_ = bool(state["missing_in_fit"])
    return encoder


def check_layout(state, encoder: TableEncoder | None, n_features_in: int):
    """``module_layout_``'s saved state checked against the encoder and
    ``n_features_in_``, as a :class:`~skvae._columns.ColumnLayout`."""
    if encoder is None:
        return ColumnLayout.from_state(state, n_features_in, ())
    return ColumnLayout.from_state(state, encoder.n_numeric, encoder.cardinalities)
