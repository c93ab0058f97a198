"""MemlayerMemoryBlock inside LlamaIndex's Memory: flushes land in memlayer, get() recalls them."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.sql import MessageStatus

from llamaindex_memlayer import MemlayerMemoryBlock
from llamaindex_memlayer._convert import format_recall

FACT = "I live in Paris"
FILLER = [
    ("user", "Tell me a joke about cats and dogs please."),
    ("assistant", "Why did the cat sit on the computer? To keep an eye on the mouse."),
    ("user", "Another one about the weather, if you can."),
    ("assistant", "What did one cloud say to the other? Let's mist together sometime."),
]


def _block(store, user: str = "alice", **kw) -> MemlayerMemoryBlock:
    kw.setdefault("infer", False)
    return MemlayerMemoryBlock(memory=store, user_id=user, **kw)


def _words(text: str) -> list[str]:
    return text.split()


def test_defaults():
    from memlayer import Memory as Store
    from memlayer.embeddings.hashing import HashingEmbedder

    with Store(":memory:", embedder=HashingEmbedder(dims=16), graph=False) as store:
        block = MemlayerMemoryBlock(memory=store, user_id="u")
    assert block.priority == 1 and block.accept_short_term_memory and block.infer
    assert block.name == "memlayer"


def test_flush_into_block_then_recall(store, llm, texts):
    memory = Memory.from_defaults(
        session_id="s1", token_limit=120, chat_history_token_ratio=0.3, token_flush_size=20,
        memory_blocks=[_block(store)],
    )
    memory.put(ChatMessage(role="user", content=FACT))
    memory.put(ChatMessage(role="assistant", content="Paris is lovely."))
    assert texts(store, user_id="alice") == []  # nothing flushed yet
    for role, content in FILLER:
        memory.put(ChatMessage(role=role, content=content))
    stored = texts(store, user_id="alice")
    assert FACT in stored  # flushed out of the buffer into the block
    assert FACT not in [m.content for m in memory.get_all(status=MessageStatus.ACTIVE)]

    memory.put(ChatMessage(role="user", content="Where do I live?"))
    got = memory.get()
    assert got[0].role == MessageRole.SYSTEM
    assert "<memlayer>" in got[0].content and FACT in got[0].content

    SimpleChatEngine.from_defaults(llm=llm, memory=memory).chat("Where do I live again?")
    assert FACT in llm.calls[-1][0].content


async def test_flush_records_session_and_stays_scoped(astore):
    block = MemlayerMemoryBlock(memory=astore, user_id="alice", infer=False)
    memory = Memory.from_defaults(
        session_id="s9", token_limit=120, chat_history_token_ratio=0.3, token_flush_size=20, memory_blocks=[block]
    )
    for role, content in [("user", FACT), ("assistant", "Noted."), *FILLER]:
        await memory.aput(ChatMessage(role=role, content=content))
    rows = (await astore.get_all(user_id="alice"))["results"]
    assert rows and all(r["metadata"] == {"session_id": "s9"} for r in rows)
    assert (await astore.get_all(user_id="bob"))["results"] == []
    bob = MemlayerMemoryBlock(memory=astore, user_id="bob", infer=False)
    assert await bob.aget([ChatMessage(role="user", content="Where do I live?")]) == ""


async def test_aget_formats_ranked_memories_and_skips_without_query(store):
    for text in (FACT, "I work as a baker", "My cat is called Tom"):
        store.add(text, user_id="alice", infer=False)
    block = _block(store, limit=2)
    assert await block.aget([]) == ""
    out = await block.aget([ChatMessage(role="user", content="where do I live? Paris?")])
    bullets = [line for line in out.splitlines() if line.startswith("- ")]
    assert len(bullets) == 2 and FACT in bullets[0]
    assert out.startswith(block.header)


async def test_atruncate_drops_lowest_ranked_first():
    block_text = format_recall(
        [{"memory": f"memory number {i}", "created_at": None} for i in range(4)],
        [{"source": "alice", "relationship": "lives_in", "destination": "paris"}],
    )
    block = MemlayerMemoryBlock.model_construct(tokenizer_fn=_words)
    assert await block.atruncate(block_text, 0) == block_text
    cut = await block.atruncate(block_text, 4)
    assert cut is not None and "lives_in" not in cut and "Known relations" not in cut
    assert "memory number 3" in cut
    cut = await block.atruncate(block_text, 10)
    assert cut is not None and "memory number 0" in cut and "memory number 3" not in cut
    assert await block.atruncate(block_text, 10_000) is None


async def test_truncation_under_token_pressure_keeps_top_memories(store):
    for i in range(8):
        store.add(f"I visited city number {i} during the long summer holiday trip", user_id="alice", infer=False)
    block = _block(store, limit=8, show_dates=False)
    memory = Memory.from_defaults(session_id="s1", token_limit=120, memory_blocks=[block])
    await memory.aput(ChatMessage(role="user", content="Which city did I visit on my summer holiday trip?"))
    full = await block.aget(await memory.aget_all())
    assert len(full.splitlines()) == 9
    got = await memory.aget()
    kept = [line for line in got[0].content.splitlines() if line.startswith("- ")]
    assert 0 < len(kept) < 8  # trimmed bullet by bullet, not dropped whole
    assert kept == full.splitlines()[1:1 + len(kept)]  # in rank order: the lowest-ranked went first


async def test_relations_are_rendered():
    class Stub:
        async def search(self, query, **kw):
            return {"results": [{"memory": "Alice lives in Paris", "created_at": "2024-05-01T10:00:00+00:00"}],
                    "relations": [{"source": "alice", "relationship": "lives_in", "destination": "paris"}]}

        async def add(self, messages, **kw):
            return {"results": []}

    block = MemlayerMemoryBlock(memory=Stub(), user_id="alice")
    out = await block.aget([ChatMessage(role="user", content="where?")])
    assert "- Alice lives in Paris (2024-05-01)" in out
    assert "Known relations:\n- alice -[lives_in]-> paris" in out
