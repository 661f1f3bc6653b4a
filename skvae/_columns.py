"""Where each column sits in the network's matrix, and the categorical columns' head.

The network sees a table as one float matrix: the numeric columns first (NaN where
a cell is missing), then one one-hot block per categorical column (all zeros where
the cell is missing). :class:`ColumnLayout` is that arrangement, and the only code
that slices it; :class:`CategoricalHead` is the categorical columns' likelihood
(a softmax over each block of the decoder's logits), the counterpart of the numeric
columns' noise model (:mod:`skvae._noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

# At most this many categories in one column (a file may not declare more).
MAX_CATEGORIES = 1000


def _split(x, sizes):
    """``x``'s columns in consecutive blocks of ``sizes`` (a tensor or an array)."""
    if isinstance(x, torch.Tensor):
        return x.split(sizes, dim=1)
    return np.split(x, np.cumsum(sizes)[:-1], axis=1) if sizes else []


@dataclass(frozen=True)
class CategoricalHead:
    """Softmax likelihood of the categorical columns, one block of logits each.

    Examples
    --------
    >>> import torch
    >>> from skvae._columns import CategoricalHead
    >>> head = CategoricalHead((2, 3))
    >>> logits = torch.tensor([[0.0, 0.0, 5.0, 0.0, 0.0]])
    >>> one_hot = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0]])
    >>> head.cell_nll(logits, one_hot).round(decimals=4)
    tensor([[0.6931, 0.0134]])
    >>> head.mode(logits)
    tensor([[1., 0., 1., 0., 0.]])
    """

    cardinalities: tuple[int, ...]

    def cell_nll(self, logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
        """Cross-entropy ``-sum_c e_kc log softmax(l_k)_c`` of each column ``k``
        (0 where the one-hot block is all zeros: a missing cell)."""
        return torch.cat(
            [
                -(block * scores.log_softmax(dim=1)).sum(dim=1, keepdim=True)
                for scores, block in zip(
                    _split(logits, self.cardinalities),
                    _split(one_hot, self.cardinalities),
                    strict=True,
                )
            ],
            dim=1,
        )

    def observed(self, one_hot):
        """Which cells are observed: one-hot blocks that are not all zeros."""
        blocks = _split(one_hot, self.cardinalities)
        if isinstance(one_hot, torch.Tensor):
            return torch.cat([b.sum(dim=1, keepdim=True) > 0 for b in blocks], dim=1)
        return np.concatenate([b.sum(axis=1, keepdims=True) > 0 for b in blocks], 1)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Each column's category probabilities, in the one-hot layout."""
        return torch.cat(
            [block.softmax(dim=1) for block in _split(logits, self.cardinalities)],
            dim=1,
        )

    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        """The most probable category of each column, one-hot."""
        if not self.cardinalities:
            return logits[:, :0]
        return torch.cat(
            [
                torch.nn.functional.one_hot(block.argmax(dim=1), len(block[0])).to(
                    logits.dtype
                )
                for block in _split(logits, self.cardinalities)
            ],
            dim=1,
        )

    def sample(
        self, logits: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """One category of each column drawn from its softmax, one-hot."""
        draws = []
        for block in _split(logits, self.cardinalities):
            index = torch.multinomial(block.softmax(dim=1), 1, generator=generator)
            draws.append(torch.zeros_like(block).scatter_(1, index, 1.0))
        return torch.cat(draws, dim=1) if draws else logits[:, :0]


@dataclass(frozen=True)
class ColumnLayout:
    """The network matrix's columns: ``n_numeric`` numeric ones, then one one-hot
    block per entry of ``cardinalities``; ``missing_input`` tells whether the
    encoder also gets the observed mask (one 0/1 column per table column).

    Examples
    --------
    >>> import torch
    >>> from skvae._columns import ColumnLayout
    >>> layout = ColumnLayout(n_numeric=1, cardinalities=(2,))
    >>> x = torch.tensor([[float("nan"), 0.0, 1.0], [2.0, 0.0, 0.0]])
    >>> layout.observed(x)
    tensor([[False,  True],
            [ True, False]])
    >>> layout.n_encoded, layout.n_columns, layout.n_input
    (3, 2, 3)
    """

    n_numeric: int
    cardinalities: tuple[int, ...] = ()
    missing_input: bool = False

    def __post_init__(self):
        object.__setattr__(self, "n_numeric", int(self.n_numeric))
        object.__setattr__(
            self, "cardinalities", tuple(int(c) for c in self.cardinalities)
        )
        object.__setattr__(self, "missing_input", bool(self.missing_input))

    @property
    def n_encoded(self) -> int:
        """Width of the network's matrix (and of the reconstruction)."""
        return self.n_numeric + sum(self.cardinalities)

    @property
    def n_columns(self) -> int:
        """Number of table columns: numeric and categorical."""
        return self.n_numeric + len(self.cardinalities)

    @property
    def n_input(self) -> int:
        """Width of the encoder's input: the matrix, then the observed mask."""
        return self.n_encoded + (self.n_columns if self.missing_input else 0)

    @property
    def numeric_columns(self) -> slice:
        """The numeric columns' positions (also those of a layer's numeric
        weights)."""
        return slice(0, self.n_numeric)

    @property
    def head(self) -> CategoricalHead:
        return CategoricalHead(self.cardinalities)

    def numeric(self, x):
        """The numeric columns of ``x`` (a view)."""
        return x[:, : self.n_numeric]

    def categorical(self, x):
        """The one-hot (or logit) columns of ``x`` (a view)."""
        return x[:, self.n_numeric : self.n_encoded]

    def blocks(self, x) -> list:
        """The one-hot (or logit) block of each categorical column of ``x``."""
        return list(_split(self.categorical(x), self.cardinalities))

    def observed(self, x):
        """Which cells of each column are observed, shape (n_samples, n_columns):
        numeric cells that are not NaN, categorical cells whose one-hot block is
        not all zeros. ``x`` is a tensor or an array, and so is the result."""
        numeric = self.numeric(x)
        numeric = ~(
            numeric.isnan() if isinstance(x, torch.Tensor) else np.isnan(numeric)
        )
        if not self.cardinalities:
            return numeric
        categorical = self.head.observed(self.categorical(x))
        if isinstance(x, torch.Tensor):
            return torch.cat([numeric, categorical], dim=1)
        return np.concatenate([numeric, categorical], axis=1)

    def numeric_observed(self, observed):
        """The numeric columns' part of an :meth:`observed` mask."""
        return observed[:, : self.n_numeric]

    def missing_one_hot(self, observed: torch.Tensor) -> torch.Tensor:
        """Which one-hot entries belong to a missing categorical cell, from the
        per-column ``observed`` mask of :meth:`observed`."""
        return torch.repeat_interleave(
            ~observed[:, self.n_numeric :],
            torch.tensor(self.cardinalities, device=observed.device),
            dim=1,
        )

    def cell_mask(self, per_column: torch.Tensor) -> torch.Tensor:
        """A per-column mask, shape (n_samples, n_columns), spread over the
        encoded layout: each categorical column's value over its one-hot block."""
        return torch.cat(
            [
                self.numeric_observed(per_column),
                torch.repeat_interleave(
                    per_column[:, self.n_numeric :],
                    torch.tensor(self.cardinalities, device=per_column.device),
                    dim=1,
                ),
            ],
            dim=1,
        )

    def numeric_residual(self, x: torch.Tensor, reconstruction: torch.Tensor):
        """``x - reconstruction`` on the numeric columns (NaN where missing)."""
        return self.numeric(x) - self.numeric(reconstruction)

    def expected_value(self, reconstruction: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` in the matrix's layout from the decoder's output: the
        numeric means, then each categorical column's probabilities."""
        if not self.cardinalities:
            return reconstruction
        return torch.cat(
            [
                self.numeric(reconstruction),
                self.head.probabilities(self.categorical(reconstruction)),
            ],
            dim=1,
        )

    def replace_missing(
        self,
        x: torch.Tensor,
        estimate: torch.Tensor,
        observed: torch.Tensor,
        categorical: bool = True,
    ) -> torch.Tensor:
        """A copy of ``x`` whose missing cells hold ``estimate``'s values (its
        numeric cells, and with ``categorical`` its categorical blocks)."""
        filled = x.clone()
        filled[:, : self.n_numeric] = torch.where(
            ~self.numeric_observed(observed), self.numeric(estimate), self.numeric(x)
        )
        if categorical and self.cardinalities:
            filled[:, self.n_numeric :] = torch.where(
                self.missing_one_hot(observed),
                self.categorical(estimate),
                self.categorical(x),
            )
        return filled

    def state(self) -> dict:
        """The layout as JSON-ready values (the ``module_layout_`` of files)."""
        return dict(
            n_features=self.n_numeric,
            cardinalities=list(self.cardinalities),
            missing_input=self.missing_input,
        )

    @classmethod
    def from_state(cls, state, n_numeric: int, cardinalities) -> ColumnLayout:
        """The layout :meth:`state` wrote, checked against the columns it must
        describe (``n_numeric`` numeric ones and the table encoder's
        ``cardinalities``); ValueError otherwise."""
        from .exceptions import invalid_model

        if not isinstance(state, dict) or set(state) != {
            "n_features",
            "cardinalities",
            "missing_input",
        }:
            raise invalid_model(
                "module_layout_ must hold n_features, cardinalities and missing_input"
            )
        n, stated = state["n_features"], state["cardinalities"]
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise invalid_model("module_layout_ n_features must be an integer >= 0")
        if not isinstance(stated, (list, tuple)) or not all(
            isinstance(c, Integral)
            and not isinstance(c, bool)
            and 1 <= c <= MAX_CATEGORIES
            for c in stated
        ):
            raise invalid_model(
                "module_layout_ cardinalities must be integers from 1 to "
                f"{MAX_CATEGORIES}"
            )
        if not isinstance(state["missing_input"], bool):
            raise invalid_model("module_layout_ missing_input must be a boolean")
        layout = cls(n, tuple(stated), state["missing_input"])
        if (layout.n_numeric, layout.cardinalities) != (
            int(n_numeric),
            tuple(int(c) for c in cardinalities),
        ):
            raise invalid_model(
                "module_layout_ does not match the columns of the table encoder"
            )
        if layout.n_columns < 1:
            raise invalid_model("module_layout_ describes no column")
        return layout
