"""The BERT + mean pooling encoder in numpy: a request's few texts without importing torch.

A question is one short text; importing torch to embed it costs a cold ``newsdesk ask`` more than a
second (docs/performance.md), and one text gains nothing from torch's kernels. This encoder reads
the same ``model.safetensors`` and ``tokenizer.json`` as the torch one (:mod:`ingest.embedding.encoder`,
which embeds ingest's batches) and computes the same vectors in float32 (cosine >= 0.99999 to
them, checked in tests/ingest/embedding/test_numpy_encoder.py): embeddings, post-LayerNorm blocks
with exact (erf) GELU, mean pooling over real tokens, L2 normalization. The query, key and value
projections are one matrix product; weights are stored transposed, ready for ``x @ w``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ingest.embedding.layout import BertLayout, BertSentenceEncoder, load_tokenizer, state_dict_names

Array = npt.NDArray[np.float32]

# erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z / 2): Numerical Recipes' Chebyshev fit, fractional
# error below 1.2e-7 for every z >= 0 (float32 resolution); erf(-x) = -erf(x).
ERFC_COEFFICIENTS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erf(x: Array) -> Array:
    """The error function, elementwise, to float32 precision."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, ERFC_COEFFICIENTS[-1])
    for coefficient in reversed(ERFC_COEFFICIENTS[:-1]):
        poly = poly * t + coefficient
    erfc = t * np.exp(-z * z + poly)
    return np.asarray(np.copysign(1.0 - erfc, x), dtype=np.float32)


def gelu(x: Array) -> Array:
    """BERT's GELU: x * Phi(x), with the exact (erf) normal distribution function."""
    return np.asarray(0.5 * x * (1.0 + erf(x * np.float32(0.5**0.5))), dtype=np.float32)


def layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return np.asarray(centred / np.sqrt(variance + np.float32(eps)) * weight + bias, dtype=np.float32)


@dataclass(frozen=True)
class Block:
    """One transformer block's weights, each matrix as (in, out)."""

    qkv: Array
    qkv_bias: Array
    attention_out: Array
    attention_out_bias: Array
    attention_norm: tuple[Array, Array]
    intermediate: Array
    intermediate_bias: Array
    output: Array
    output_bias: Array
    output_norm: tuple[Array, Array]


class NumpySentenceEncoder(BertSentenceEncoder):
    """``encode`` like the torch encoder (the subset Newsdesk uses), in numpy."""

    def __init__(self, layout: BertLayout) -> None:
        from safetensors.numpy import load_file

        weights = {
            k: np.ascontiguousarray(v, dtype=np.float32)
            for k, v in load_file(str(layout.folder / "model.safetensors")).items()
        }
        names = state_dict_names(layout.layers)

        def w(name: str) -> Array:
            return weights[names[name]]

        self.layout = layout
        self.word, self.position = w("word.weight"), w("position.weight")
        self.token_type = w("token_type.weight")[0]
        self.norm = (w("norm.weight"), w("norm.bias"))
        self.blocks = [self._block(w, f"blocks.{i}.") for i in range(layout.layers)]
        self.max_seq_length = layout.max_seq_length
        self.tokenizer = load_tokenizer(layout.folder, layout.max_seq_length)

    @staticmethod
    def _block(w: Callable[[str], Array], p: str) -> Block:
        def t(name: str) -> Array:
            return np.ascontiguousarray(w(f"{p}{name}.weight").T)

        return Block(
            qkv=np.ascontiguousarray(np.concatenate([t("query"), t("key"), t("value")], axis=1)),
            qkv_bias=np.concatenate([w(f"{p}{n}.bias") for n in ("query", "key", "value")]),
            attention_out=t("attention_out"),
            attention_out_bias=w(f"{p}attention_out.bias"),
            attention_norm=(w(f"{p}attention_norm.weight"), w(f"{p}attention_norm.bias")),
            intermediate=t("intermediate"),
            intermediate_bias=w(f"{p}intermediate.bias"),
            output=t("output"),
            output_bias=w(f"{p}output.bias"),
            output_norm=(w(f"{p}output_norm.weight"), w(f"{p}output_norm.bias")),
        )

    def _forward(self, texts: list[str]) -> Array:
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        length = ids.shape[1]
        x = self.word[ids] + self.position[:length] + self.token_type
        x = layer_norm(x.reshape(-1, self.layout.hidden), *self.norm, self.layout.eps)
        masked = np.where(attention > 0, np.float32(0.0), np.float32(-np.inf))[:, None, None, :]
        for block in self.blocks:
            x = self._block_forward(block, x, masked)
        x, weights = x.reshape(ids.shape[0], length, -1), attention[:, :, None]
        pooled = np.asarray((x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9), dtype=np.float32)
        if self.layout.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled

    def _block_forward(self, block: Block, x: Array, masked: Array) -> Array:
        """One block on ``x`` as (batch * length, hidden) rows: each projection one matrix product."""
        batch, length = masked.shape[0], masked.shape[-1]
        hidden, heads = self.layout.hidden, self.layout.heads
        size, eps = hidden // heads, self.layout.eps
        qkv = (x @ block.qkv + block.qkv_bias).reshape(batch, length, 3, heads, size)
        q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(size**-0.5) + masked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        x = layer_norm(
            x + context @ block.attention_out + block.attention_out_bias, *block.attention_norm, eps
        )
        inner = gelu(x @ block.intermediate + block.intermediate_bias)
        return layer_norm(x + inner @ block.output + block.output_bias, *block.output_norm, eps)
