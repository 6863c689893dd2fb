"""The first pass's fit (assistant.ranker_fit): a logistic regression by Newton's method over
standardized features, and its recall by week cross-validation."""

from __future__ import annotations

import numpy as np

from assistant.ranker_fit import Pools, first_pass_recall, fit_logistic
from assistant.retrieval.reading import FIRST_PASS_FEATURES, FirstPass

WIDTH = len(FIRST_PASS_FEATURES)


def synthetic(questions: int, per_question: int, seed: int = 3) -> Pools:
    """Pools where the answer is the sentence with the highest cosine (column 0) plus noise, and
    column 2 (BM25) says nothing."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(questions * per_question, WIDTH))
    labels = np.zeros(len(rows), dtype=np.int64)
    for q in range(questions):
        block = slice(q * per_question, (q + 1) * per_question)
        labels[block][int(np.argmax(rows[block, 0] + 0.3 * rng.normal(size=per_question)))] = 1
    question = np.repeat(np.arange(questions), per_question)
    weeks = [f"w{q % 8}" for q in range(questions)]
    return Pools(rows, labels, question, weeks, [False] * questions)


def test_the_fitted_first_pass_weighs_what_predicts_the_answer_and_not_what_does_not() -> None:
    pools = synthetic(200, 50)
    model = fit_logistic(pools.rows, pools.labels)
    weights = np.abs(model["weights"])
    assert model["features"] == list(FIRST_PASS_FEATURES)
    assert weights[0] > 5 * weights[2] and model["weights"][0] > 0
    scores = FirstPass(model=model).scores(pools.rows)
    top = [int(np.argmax(scores[q * 50 : (q + 1) * 50])) for q in range(200)]
    assert np.mean([pools.labels[q * 50 + t] for q, t in enumerate(top)]) > 0.5


def test_the_first_pass_recall_grows_with_what_is_kept_and_is_whole_when_all_is() -> None:
    figures = first_pass_recall(synthetic(160, 120))
    assert figures["unread"] == 0.0
    assert figures["kept_40"] <= figures["kept_60"] <= figures["kept_100"] <= figures["whole"] == 1.0
    assert figures["kept_40"] > 40 / 120  # better than chance
