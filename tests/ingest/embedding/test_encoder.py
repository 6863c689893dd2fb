"""The light BERT encoder gives the vectors sentence-transformers gives, for the bundled model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.core.settings import DEFAULT_MODEL
from ingest.embedding.embedder import Embedder, resolve_model_path
from ingest.embedding.encoder import LightSentenceEncoder
from ingest.embedding.layout import read_layout
from tests.conftest import SAMPLE

MODEL = Path(resolve_model_path(DEFAULT_MODEL))
ODD_TEXTS = [
    "",
    "  padded   text \n with a line break ",
    "Ünïcödé — “quotes”, 東京 and an emoji 😀.",
    "word " * 400,  # longer than 256 tokens: truncated like sentence-transformers does
]


def test_light_encoder_matches_sentence_transformers_in_fp32() -> None:
    texts = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()] + ODD_TEXTS
    light = Embedder(DEFAULT_MODEL, precision="fp32", backend="light")
    library = Embedder(DEFAULT_MODEL, precision="fp32", backend="sentence-transformers")
    ours, theirs = light.embed(texts), library.embed(texts)
    assert (light.backend, library.backend) == ("light", "sentence-transformers")
    assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.99999
    assert float(np.max(np.abs(ours - theirs))) < 1e-4


def test_bundled_model_folder_has_the_light_layout() -> None:
    layout = read_layout(MODEL)
    assert layout is not None
    assert (layout.hidden, layout.heads, layout.layers, layout.max_seq_length, layout.normalize) == (
        384,
        12,
        6,
        256,
        True,
    )
    assert LightSentenceEncoder(layout).get_embedding_dimension() == 384


def copy_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    return folder


@pytest.mark.parametrize(
    ("file", "change"),
    [
        ("1_Pooling/config.json", {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}),
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"hidden_act": "relu"}),
    ],
)
def test_other_model_layouts_fall_back_to_sentence_transformers(
    tmp_path: Path, file: str, change: dict[str, object]
) -> None:
    folder = copy_model(tmp_path)
    path = folder / file
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **change}), encoding="utf-8")
    assert read_layout(folder) is None
    embedder = Embedder(str(folder), precision="fp32")
    assert embedder.embed(["A sentence."]).shape == (1, 384)
    assert embedder.backend == "sentence-transformers"


def test_a_folder_without_modules_json_is_not_light(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "modules.json").unlink()
    assert read_layout(folder) is None
    assert read_layout(tmp_path / "missing") is None
