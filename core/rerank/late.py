"""Late interaction: a sentence-transformers model's token vectors, each query word matched with its closest
word of the candidate (MaxSim, as ColBERT scores), averaged over the query's content words.

No model beyond the embedder's own: the default is the bundled all-MiniLM-L6-v2, loaded once per process
and shared with the embedder. A bi-encoder pools a text into one vector before the query is seen; here the
query's words meet the candidate's words ("activities" finds "pottery", "camping"), which is what the
retrievers miss on questions that ask for lists. Cost: a candidate's token vectors come from a transformer
pass over it (about 14 ms a conversation turn on the 2-core development machine), so they are kept for the
``cache_size`` texts used last: a scope searched again costs the query's pass and a few products.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..embeddings.sentence_transformers import DEFAULT_MODEL, load_model
from ..errors import missing_extra
from ..search.lexical import STOPWORDS


class LateInteractionReranker:
    """Scores each text by the mean, over the query's content words, of its best cosine with a word of the
    text (stop words, question words and punctuation of the query are left out; the text keeps every word).

    ``cache_size`` texts' token vectors are kept (half precision, about 30 KB for a 40-word text); 0 keeps none.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu", batch_size: int = 32,
                 cache_size: int = 2048) -> None:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - sentence-transformers brings it
            raise missing_extra("local", "torch") from exc
        self._torch = torch
        self.model_name = model
        self.settings: dict[str, Any] = {"model": model}
        self._model = load_model(model, device)
        self._batch = max(1, int(batch_size))
        self._tokenizer = self._model.tokenizer
        self._special = set(self._tokenizer.all_special_ids)
        self._content_ids: dict[int, bool] = {}
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._lock = threading.Lock()

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float64)
        (q_vecs,), (q_ids,) = self._encode([query])
        words = [self._is_content(int(i)) for i in q_ids.tolist()]
        if not any(words):
            return np.zeros(len(texts), dtype=np.float64)  # nothing to match: every text alike
        q = q_vecs[self._torch.tensor(words, dtype=self._torch.bool)]
        docs = self._documents(texts)
        out = np.zeros(len(texts), dtype=np.float64)
        for i, doc in enumerate(docs):
            if len(doc):  # a text of no words (empty, or only what the tokenizer drops) matches nothing
                out[i] = float((q @ doc.float().T).max(dim=1).values.mean())
        return out

    # -- token vectors --------------------------------------------------------------------------------
    def _documents(self, texts: list[str]) -> list[Any]:
        """Each text's unit token vectors (special tokens left out), from the cache or encoded now."""
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
        missing = sorted(dict.fromkeys(t for t in texts if t not in found), key=len)  # alike lengths: less padding
        for start in range(0, len(missing), self._batch):
            chunk = missing[start:start + self._batch]
            vecs, _ = self._encode(chunk)
            found.update(zip(chunk, (v.half() for v in vecs), strict=True))
        if missing and self._cache_size:
            with self._lock:
                for t in missing:
                    self._cache[t] = found[t]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[t] for t in texts]

    def _encode(self, texts: list[str]) -> tuple[list[Any], list[Any]]:
        """Per text: its unit token vectors and their token ids, without padding and special tokens."""
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize  # tokenize before 6.x
        features = prepare(texts)
        features = {k: v.to(self._model.device) if hasattr(v, "to") else v for k, v in features.items()}
        with self._torch.inference_mode():
            out = self._model.forward(dict(features))
        vecs = self._torch.nn.functional.normalize(out["token_embeddings"].float(), dim=-1)
        ids, mask = features["input_ids"], features["attention_mask"].bool()
        for sid in self._special:
            mask &= ids != sid
        return [v[m] for v, m in zip(vecs, mask, strict=True)], [i[m] for i, m in zip(ids, mask, strict=True)]

    def _is_content(self, token_id: int) -> bool:
        """Whether a query token counts: a word piece of a content word (not of a stop word or punctuation)."""
        found = self._content_ids.get(token_id)
        if found is None:
            piece = str(self._tokenizer.convert_ids_to_tokens(token_id)).lstrip("#").lower()
            found = piece not in STOPWORDS and any(ch.isalnum() for ch in piece)
            self._content_ids[token_id] = found
        return found
