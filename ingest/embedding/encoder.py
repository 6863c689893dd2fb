"""A light encoder for BERT sentence-transformers models such as all-MiniLM-L6-v2.

Importing ``transformers`` and ``sentence_transformers`` costs CPU time and memory at start, more
than the rest of a cold ``newsdesk ask`` together (docs/performance.md). This module
needs only torch, ``tokenizers`` and ``safetensors``, and computes what sentence-transformers does
for a model folder whose modules are Transformer (BERT) -> mean Pooling -> optional Normalize:
the same vectors (cosine >= 0.99999, checked in tests/ingest/embedding/test_encoder.py).
:func:`~ingest.embedding.layout.read_layout` returns None for any other folder, which the embedder
then loads with sentence-transformers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from ingest.embedding.layout import BertLayout, BertSentenceEncoder, load_tokenizer, state_dict_names


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


class LightSentenceEncoder(BertSentenceEncoder):
    """``encode`` like SentenceTransformer (the subset Newsdesk uses), on the light BERT encoder."""

    def __init__(self, layout: BertLayout) -> None:
        from safetensors.torch import load_file

        weights = load_file(str(layout.folder / "model.safetensors"))
        names = state_dict_names(layout.layers)
        vocab, positions, token_types = (
            weights[names[f"{n}.weight"]].shape[0] for n in ("word", "position", "token_type")
        )
        self.network = BertMeanEncoder(layout, vocab, positions, token_types)
        self.network.load_state_dict({ours: weights[theirs] for ours, theirs in names.items()})
        self.network.eval()
        self.layout = layout
        self.max_seq_length = layout.max_seq_length
        self.tokenizer = load_tokenizer(layout.folder, layout.max_seq_length)

    def use_bf16_weights(self) -> None:
        """Keep the linear layers in bf16, so bf16 autocast does not cast their weights on every call."""
        for module in self.network.modules():
            if isinstance(module, nn.Linear):
                module.to(torch.bfloat16)

    def _forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        attention = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        with torch.inference_mode():
            vectors = self.network(ids, attention)
        return np.asarray(vectors.numpy(), dtype=np.float32)
