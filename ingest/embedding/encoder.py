"""A light encoder for BERT sentence-transformers models such as all-MiniLM-L6-v2.

Importing ``transformers`` and ``sentence_transformers`` costs CPU time and memory at start, more
than the rest of a cold ``newsdesk ask`` together (docs/performance.md). This module
needs only torch, ``tokenizers`` and ``safetensors``, and computes what sentence-transformers does
for a model folder whose modules are Transformer (BERT) -> mean Pooling -> optional Normalize:
the same vectors (cosine >= 0.99999, checked in tests/ingest/embedding/test_encoder.py). :func:`read_layout`
returns None for any other folder, which the embedder then loads with sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

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


class BertLayer(nn.Module):
    """One transformer block of BERT (post-LayerNorm), with the parameter names of transformers."""

    def __init__(self, layout: BertLayout) -> None:
        super().__init__()
        h, eps = layout.hidden, layout.eps
        self.heads = layout.heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attention_out, self.attention_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Linear(h, layout.intermediate)
        self.output, self.output_norm = nn.Linear(layout.intermediate, h), nn.LayerNorm(h, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = (
            proj(x).view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)
            for proj in (self.query, self.key, self.value)
        )
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        x = self.attention_norm(x + self.attention_out(context))
        out: torch.Tensor = self.output_norm(x + self.output(F.gelu(self.intermediate(x))))
        return out


class BertMeanEncoder(nn.Module):
    """BERT embeddings and blocks, then mean pooling over real tokens (and L2 normalization)."""

    def __init__(self, layout: BertLayout, vocab: int, positions: int, token_types: int) -> None:
        super().__init__()
        self.layout = layout
        self.word = nn.Embedding(vocab, layout.hidden)
        self.position = nn.Embedding(positions, layout.hidden)
        self.token_type = nn.Embedding(token_types, layout.hidden)
        self.norm = nn.LayerNorm(layout.hidden, eps=layout.eps)
        self.blocks = nn.ModuleList(BertLayer(layout) for _ in range(layout.layers))

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(positions) + self.token_type.weight[0])
        mask = attention[:, None, None, :].bool()
        for block in self.blocks:
            x = block(x, mask)
        weights = attention.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        pooled = pooled.float()
        return F.normalize(pooled, p=2.0, dim=1) if self.layout.normalize else pooled


def _state_dict_names(layers: int) -> dict[str, str]:
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


class LightSentenceEncoder:
    """``encode`` like SentenceTransformer (the subset Newsdesk uses), on the light BERT encoder."""

    def __init__(self, layout: BertLayout) -> None:
        from safetensors.torch import load_file

        weights = load_file(str(layout.folder / "model.safetensors"))
        names = _state_dict_names(layout.layers)
        vocab, positions, token_types = (
            weights[names[f"{n}.weight"]].shape[0] for n in ("word", "position", "token_type")
        )
        self.network = BertMeanEncoder(layout, vocab, positions, token_types)
        self.network.load_state_dict({ours: weights[theirs] for ours, theirs in names.items()})
        self.network.eval()
        self.max_seq_length = layout.max_seq_length
        self.tokenizer = load_tokenizer(layout.folder, layout.max_seq_length)

    def use_bf16_weights(self) -> None:
        """Keep the linear layers in bf16, so bf16 autocast does not cast their weights on every call."""
        for module in self.network.modules():
            if isinstance(module, nn.Linear):
                module.to(torch.bfloat16)

    def get_embedding_dimension(self) -> int:
        return int(self.network.layout.hidden)

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
    ) -> npt.NDArray[np.float32]:
        """Vectors of ``texts`` in their order (normalized when the model has a Normalize module)."""
        out = np.empty((len(texts), self.get_embedding_dimension()), dtype=np.float32)
        for begin in range(0, len(texts), batch_size):
            out[begin : begin + batch_size] = self._forward(list(texts[begin : begin + batch_size]))
        if normalize_embeddings and not self.network.layout.normalize and len(out):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        attention = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        with torch.inference_mode():
            vectors = self.network(ids, attention)
        return np.asarray(vectors.numpy(), dtype=np.float32)
