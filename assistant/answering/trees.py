"""A LightGBM model's trees, evaluated with numpy: the fitted ranker without importing LightGBM.

Importing ``lightgbm`` takes about 1.9 s of a cold ``newsdesk ask`` (it imports scikit-learn and
SciPy when they are installed); the ranker only needs its model's trees summed. This module reads
the model's text format (``Booster.model_to_string``: what ``assistant/models/ranker.txt`` holds)
and evaluates every tree for every row at once, level by level, as LightGBM does for numerical
splits: a missing value (NaN) follows the split's default direction when the split learned one
(missing type NaN), and counts as 0.0 otherwise; with missing type Zero, a value of (almost) zero
follows the default direction; else ``value <= threshold`` goes left. Categorical splits and
linear trees are not used by the ranker and are refused when read. Fitting still uses LightGBM
(:mod:`assistant.ranker_fit`); a test checks both give the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.core.errors import ConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
DEFAULT_LEFT = 2  # bit 1 of decision_type
MISSING_ZERO, MISSING_NAN = 1, 2  # bits 2-3 of decision_type


@dataclass(frozen=True)
class Trees:
    """Every tree as one row of padded node arrays: its internal nodes first, then, from column
    ``internal``, its leaves, each a node that leads to itself (so every row can take one more step
    whatever node it is at). Flattened (tree-major) for one ``take`` per step."""

    internal: int  # columns of internal nodes (the most any tree has); leaf j is column internal + j
    width: int  # columns per tree
    feature: IntArray
    threshold: FloatArray
    default_left: npt.NDArray[np.bool_]
    missing: IntArray
    left: IntArray
    right: IntArray
    value: FloatArray  # the leaf value of a leaf column (0 for internal nodes)

    @classmethod
    def parse(cls, model: str) -> Trees:
        """The trees of a LightGBM text model; ConfigError when it holds something not supported."""
        blocks = [_fields(block) for block in model.split("\nTree=")[1:]]
        if not blocks:
            raise ConfigError("the ranker model holds no trees")
        for fields in blocks:
            if int(fields.get("num_cat", "0")) or fields.get("is_linear", "0") != "0":
                raise ConfigError("the ranker model has categorical splits or linear trees: not supported")
        internal = max(max(int(f["num_leaves"]) - 1, 1) for f in blocks)
        width = internal + max(int(f["num_leaves"]) for f in blocks)
        shape = (len(blocks), width)
        feature, decision = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        threshold, value = np.zeros(shape, np.float64), np.zeros(shape, np.float64)
        itself = np.broadcast_to(np.arange(width), shape)
        left, right = itself.copy(), itself.copy()
        for t, fields in enumerate(blocks):
            leaves = _numbers(fields["leaf_value"], float)
            value[t, internal : internal + len(leaves)] = leaves
            if int(fields["num_leaves"]) == 1:  # a single leaf: the root leads straight to it
                left[t, 0] = right[t, 0] = internal
                continue
            count = int(fields["num_leaves"]) - 1
            feature[t, :count] = _numbers(fields["split_feature"], int)
            threshold[t, :count] = _numbers(fields["threshold"], float)
            decision[t, :count] = _numbers(fields["decision_type"], int)
            for side, key in ((left, "left_child"), (right, "right_child")):
                children = np.array(_numbers(fields[key], int), np.int64)
                side[t, :count] = np.where(children < 0, internal + ~children, children)
        if np.any(decision & 1):
            raise ConfigError("the ranker model has categorical splits: not supported")
        offset = (np.arange(len(blocks)) * width)[:, None]
        return cls(
            internal,
            width,
            feature.ravel(),
            threshold.ravel(),
            ((decision & DEFAULT_LEFT) > 0).ravel(),
            ((decision >> 2) & 3).ravel(),
            (left + offset).ravel(),
            (right + offset).ravel(),
            value.ravel(),
        )

    @property
    def trees(self) -> int:
        return int(self.feature.shape[0]) // self.width

    def predict(self, rows: FloatArray) -> FloatArray:
        """The sum of every tree's leaf for each row (LightGBM's raw score)."""
        x = np.asarray(rows, dtype=np.float64)
        n = x.shape[0]
        columns = np.ascontiguousarray(x.T).ravel()  # feature-major: feature f of row r at f * n + r
        roots = np.arange(self.trees) * self.width
        node = np.repeat(roots, n)  # the node of each (tree, row) pair, tree-major
        first_leaf = node + self.internal
        row = np.tile(np.arange(n), self.trees)
        special = bool(np.isnan(columns).any()) or bool((self.missing == MISSING_ZERO).any())
        walking = np.flatnonzero(node < first_leaf)  # the pairs not at a leaf yet: fewer at each step
        while walking.size:
            at = node[walking]
            found = columns[self.feature[at] * n + row[walking]]
            goes_left = self._goes_left(found, at) if special else found <= self.threshold[at]
            at = np.where(goes_left, self.left[at], self.right[at])
            node[walking] = at
            walking = walking[at < first_leaf[walking]]
        out: FloatArray = self.value[node].reshape(self.trees, n).sum(axis=0)
        return out

    def _goes_left(self, found: FloatArray, node: IntArray) -> npt.NDArray[np.bool_]:
        """The way of each value at its node, missing values included (see the module doc)."""
        missing = self.missing[node]
        nan = np.isnan(found)
        found = np.where(nan & (missing != MISSING_NAN), 0.0, found)
        to_default = (nan & (missing == MISSING_NAN)) | (
            (missing == MISSING_ZERO) & (np.abs(found) <= ZERO_THRESHOLD)
        )
        return np.where(to_default, self.default_left[node], found <= self.threshold[node])


def _fields(block: str) -> dict[str, str]:
    """``key=value`` lines of one tree's block."""
    fields: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        key, sep, value = line.partition("=")
        if not sep:
            if line.strip() == "end of trees":
                break
            continue
        fields[key.strip()] = value.strip()
    return fields


def _numbers(text: str, kind: type[int] | type[float]) -> list[float] | list[int]:
    return [kind(v) for v in text.split()]
