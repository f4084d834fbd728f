"""Sentence embeddings from a model on disk (sentence-transformers), for the specialty match.

Optional: ``pip install 'reviewopt[embeddings]'``. The model is read from a local folder (a
SPECTER2, bge or any sentence-transformers model saved there); nothing is downloaded.
:func:`load_embedder` returns a function from texts to (N, d) float32 unit rows, which
``fit_affinity(embedder=...)`` uses beside the lexical scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["Embedder", "EmbeddingUnavailable", "load_embedder", "unit_rows"]

Embedder = Callable[[Sequence[str]], np.ndarray]


class EmbeddingUnavailable(ValueError):
    """The embedding model cannot be used (the extra is not installed, or the folder is not a
    sentence-transformers model)."""


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 with each non-zero row scaled to unit length."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return x / norm


def load_embedder(path: str | Path, *, batch_size: int = 64) -> Embedder:
    """A function embedding texts with the sentence-transformers model in folder ``path``."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbeddingUnavailable(
            f"--embedding-model {path}: sentence-transformers is not installed; install it "
            "with pip install 'reviewopt[embeddings]'"
        ) from None
    folder = Path(path)
    if not folder.is_dir():
        raise EmbeddingUnavailable(f"--embedding-model {path}: expected a model folder on disk")
    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbeddingUnavailable(
            f"--embedding-model {path}: not a sentence-transformers model folder ({exc})"
        ) from None

    def embed(texts: Sequence[str]) -> np.ndarray:
        out = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True)
        return unit_rows(np.asarray(out).reshape(len(texts), -1))

    return embed
