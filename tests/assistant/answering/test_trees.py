"""The ranker's trees evaluated with numpy give LightGBM's own scores, without importing LightGBM."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import lightgbm
import numpy as np
import pytest

from assistant.answering.trees import Trees
from assistant.core.errors import ConfigError
from tests.conftest import REPO


def shipped_model() -> str:
    return resources.files("assistant").joinpath("models", "ranker.txt").read_text(encoding="utf-8")


def test_the_shipped_ranker_scores_as_lightgbm_scores_it_on_values_at_missing_and_on_thresholds() -> None:
    model = shipped_model()
    booster = lightgbm.Booster(model_str=model)
    trees = Trees.parse(model)
    rng = np.random.default_rng(3)
    width = booster.num_feature()
    rows = rng.normal(0.3, 1.0, size=(400, width))
    rows[rng.random(rows.shape) < 0.1] = 0.0
    rows[rng.random(rows.shape) < 0.05] = np.nan  # a missing feature takes the split's default way
    used = trees.feature[trees.left != trees.right]
    at = trees.threshold[trees.left != trees.right]
    for i in range(100):  # values exactly on a split's threshold go left, as in LightGBM
        rows[i, used[i % len(used)]] = at[i % len(at)]
    expected = booster.predict(rows, num_threads=1)
    assert np.allclose(trees.predict(rows), expected, rtol=0, atol=1e-9)
    assert trees.predict(rows[:0]).shape == (0,)


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_a_model_fitted_with_missing_values_scores_the_same_both_ways(zero_as_missing: bool) -> None:
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(600, 4))
    rows[rng.random(rows.shape) < 0.2] = np.nan
    rows[rng.random(rows.shape) < 0.2] = 0.0
    labels = (np.nan_to_num(rows[:, 0]) + np.isnan(rows[:, 1]) > 0.5).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 5, "verbosity": -1}
    params["zero_as_missing"] = zero_as_missing
    booster = lightgbm.train(params, lightgbm.Dataset(rows, labels), num_boost_round=30)
    trees = Trees.parse(booster.model_to_string())
    probe = rng.normal(size=(300, 4))
    probe[rng.random(probe.shape) < 0.25] = np.nan
    probe[rng.random(probe.shape) < 0.25] = 0.0
    expected = booster.predict(probe, raw_score=True)
    assert np.allclose(trees.predict(probe), expected, rtol=0, atol=1e-9)


def test_a_model_with_categorical_splits_is_refused_by_name() -> None:
    rng = np.random.default_rng(1)
    rows = np.column_stack([rng.integers(0, 5, 500), rng.normal(size=500)])
    labels = (rows[:, 0] == 3).astype(int)
    params = {"objective": "binary", "verbosity": -1, "min_data_in_leaf": 5, "min_data_per_group": 5}
    data = lightgbm.Dataset(rows, labels, categorical_feature=[0])
    model = lightgbm.train(params, data, num_boost_round=3).model_to_string()
    with pytest.raises(ConfigError, match="categorical"):
        Trees.parse(model)
    with pytest.raises(ConfigError, match="no trees"):
        Trees.parse("tree\nversion=v4\n")


def test_scoring_candidates_does_not_import_lightgbm() -> None:
    code = (
        "import sys, numpy as np\n"
        "from assistant.answering.ranking import LearnedRanker\n"
        "ranker = LearnedRanker()\n"
        "print(ranker.scores(np.zeros((3, len(ranker.meta['features'])))).shape,"
        " 'lightgbm' in sys.modules, 'sklearn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["(3,)", "False", "False"]
