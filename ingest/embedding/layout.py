"""What a BERT + mean pooling sentence-transformers model folder holds (no torch needed).

Read by both encoders of such a folder: the torch one of :mod:`ingest.embedding.encoder` (batches:
ingest) and the numpy one of :mod:`ingest.embedding.numpy_encoder` (a request's few texts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"


@dataclass(frozen=True)
class BertLayout:
    """What the light encoder needs to know about a model folder."""

    folder: Path
    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float
    max_seq_length: int
    normalize: bool


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_layout(folder: Path) -> BertLayout | None:
    """The layout of a BERT + mean pooling sentence-transformers folder, else None."""
    try:
        modules = [m["type"] for m in _read_json(folder / "modules.json")]
        config = _read_json(folder / "config.json")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_plain_bert(modules, config, pooling, folder):
        return None
    return BertLayout(
        folder=folder,
        hidden=int(config["hidden_size"]),
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        intermediate=int(config["intermediate_size"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        max_seq_length=min(
            int(st_config.get("max_seq_length") or 512), int(config["max_position_embeddings"])
        ),
        normalize=modules[2:] == [NORMALIZE],
    )


def _is_plain_bert(modules: list[str], config: dict[str, Any], pooling: dict[str, Any], folder: Path) -> bool:
    other_pooling = [
        k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and "mean_tokens" not in k
    ]
    return (
        modules[:2] == [TRANSFORMER, POOLING]
        and modules[2:] in ([], [NORMALIZE])
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and bool(pooling.get("pooling_mode_mean_tokens"))
        and not other_pooling
        and (folder / "tokenizer.json").is_file()
        and (folder / "model.safetensors").is_file()
    )


def state_dict_names(layers: int) -> dict[str, str]:
    """Our parameter name -> the name in a transformers BERT checkpoint."""
    names = {
        "word.weight": "embeddings.word_embeddings.weight",
        "position.weight": "embeddings.position_embeddings.weight",
        "token_type.weight": "embeddings.token_type_embeddings.weight",
        "norm.weight": "embeddings.LayerNorm.weight",
        "norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attention_out": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "output": "output.dense",
        "output_norm": "output.LayerNorm",
    }
    for i in range(layers):
        for ours, theirs in parts.items():
            for kind in ("weight", "bias"):
                names[f"blocks.{i}.{ours}.{kind}"] = f"encoder.layer.{i}.{theirs}.{kind}"
    return names


def load_tokenizer(folder: Path, max_length: int) -> Any:
    """The fast tokenizer of the folder, truncating to ``max_length`` and padding to the longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    pad = "[PAD]"
    pad_id = tokenizer.token_to_id(pad)
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
    return tokenizer


class BertSentenceEncoder:
    """``encode`` like SentenceTransformer (the subset Newsdesk uses) over a ``_forward`` of one
    batch (the pooled vectors, normalized when the model has a Normalize module)."""

    layout: BertLayout

    def get_embedding_dimension(self) -> int:
        return int(self.layout.hidden)

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
    ) -> npt.NDArray[np.float32]:
        """Vectors of ``texts`` in their order."""
        out = np.empty((len(texts), self.get_embedding_dimension()), dtype=np.float32)
        for begin in range(0, len(texts), batch_size):
            out[begin : begin + batch_size] = self._forward(list(texts[begin : begin + batch_size]))
        if normalize_embeddings and not self.layout.normalize and len(out):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        raise NotImplementedError
