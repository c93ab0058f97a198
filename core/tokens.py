"""Token counting that works offline.

memlayer ships tiktoken's public ``cl100k_base`` rank file inside the package and builds the
encoding from it directly, so counting never touches the network (tiktoken would otherwise download
the file on first use). Set ``MEMLAYER_TOKENIZER`` to another tiktoken encoding name to use tiktoken's
own loader instead (which needs its cache or the network).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

_DATA = Path(__file__).parent / "data"
_CL100K_HASH = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# tiktoken's published split pattern and special tokens for cl100k_base.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@functools.lru_cache(maxsize=4)
def encoding(name: str | None = None) -> Any:
    """The tiktoken encoding used for budgets (cl100k_base from the bundled file by default)."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    name = name or os.environ.get("MEMLAYER_TOKENIZER") or "cl100k_base"
    if name != "cl100k_base":
        return tiktoken.get_encoding(name)
    ranks = load_tiktoken_bpe(str(_DATA / "cl100k_base.tiktoken"), expected_hash=_CL100K_HASH)
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )


def count_tokens(text: str) -> int:
    """Tokens in ``text`` (special-token strings are counted as ordinary text)."""
    return len(encoding().encode(text, disallowed_special=()))
