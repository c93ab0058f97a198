"""MemlayerRetriever: scored TextNodes, scoping, and use in query and chat engines."""

from __future__ import annotations

from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from llamaindex_memlayer import MemlayerMemory, MemlayerRetriever
from llamaindex_memlayer.retriever import to_memlayer_filters

FACT = "I live in Paris"


def test_nodes_carry_id_text_scope_and_score(store):
    added = store.add(FACT, user_id="alice", agent_id="helper", infer=False, metadata={"topic": "home"})
    store.add("I like green tea", user_id="alice", agent_id="helper", infer=False)
    nodes = MemlayerRetriever(store, user_id="alice", limit=1).retrieve("where do I live")
    assert len(nodes) == 1
    node = nodes[0].node
    assert isinstance(node, TextNode)
    assert node.id_ == added["results"][0]["id"] and node.text == FACT
    meta = node.metadata
    assert meta["user_id"] == "alice" and meta["agent_id"] == "helper" and meta["run_id"] is None
    assert meta["memory_id"] == node.id_ and meta["topic"] == "home" and meta["created_at"]
    assert isinstance(nodes[0].score, float)
    llm_view = node.get_content(metadata_mode=MetadataMode.LLM)
    assert "created_at" in llm_view and "user_id" not in llm_view and "memory_id" not in llm_view


async def test_async_retrieve_and_scoping(astore):
    await astore.add(FACT, user_id="alice", infer=False)
    alice = await MemlayerRetriever(astore, user_id="alice").aretrieve("where do I live")
    assert [n.node.get_content() for n in alice] == [FACT]
    assert await MemlayerRetriever(astore, user_id="bob").aretrieve("where do I live") == []
    assert MemlayerRetriever(astore, user_id="bob").retrieve("Paris") == []


def test_filters_and_relations_node():
    class Stub:
        def __init__(self) -> None:
            self.kwargs: dict = {}

        def search(self, query, **kw):
            self.kwargs = kw
            return {"results": [], "relations": [{"source": "alice", "relationship": "lives_in", "destination": "paris"}]}

        def add(self, *a, **kw):
            return {}

    stub = Stub()
    nodes = MemlayerRetriever(stub, user_id="alice", filters={"topic": "home"}, include_relations=True).retrieve("x")
    assert stub.kwargs["filters"] == {"topic": "home"} and stub.kwargs["user_id"] == "alice"
    assert len(nodes) == 1 and nodes[0].score is None
    assert "alice -[lives_in]-> paris" in nodes[0].node.get_content()
    assert MemlayerRetriever(stub, user_id="alice").retrieve("x") == []


def test_metadata_filters_mean_what_llamaindex_core_means(store):
    """Every condition (AND, OR, NOT: "none match") agrees with LlamaIndex's own build_metadata_filter_fn."""
    meta = {"tea": {"topic": "tea", "year": 2020}, "coffee": {"topic": "coffee", "year": 2024},
            "rome": {"topic": "travel"}, "untagged": {}}
    for name, md in meta.items():
        store.add(f"I like {name}", user_id="alice", infer=False, metadata=md)
    f = MetadataFilter
    filter_lists = [
        [f(key="topic", value="tea"), f(key="topic", value="coffee")],
        [f(key="topic", value="tea")],
        [f(key="topic", value="tea", operator=FilterOperator.NE)],
        [f(key="year", value=2021, operator=FilterOperator.GT)],
        [f(key="year", value=2021, operator=FilterOperator.LT), f(key="topic", value="travel")],
        [f(key="topic", value=["tea", "travel"], operator=FilterOperator.IN)],
        [f(key="topic", value=["tea"], operator=FilterOperator.NIN), f(key="year", value=2024)],
    ]
    for filter_list in filter_lists:
        for condition in FilterCondition:
            filters = MetadataFilters(filters=filter_list, condition=condition)
            keep = build_metadata_filter_fn(lambda name: meta[name], filters)
            nodes = MemlayerRetriever(store, user_id="alice", threshold=None, limit=10, filters=filters).retrieve("I like")
            got = sorted(n.node.get_content().removeprefix("I like ") for n in nodes)
            assert got == sorted(name for name in meta if keep(name)), (condition, filter_list)


def test_not_filters_translate_to_none_of():
    tea, coffee = MetadataFilter(key="topic", value="tea"), MetadataFilter(key="topic", value="coffee")
    both = MetadataFilters(filters=[tea, coffee], condition=FilterCondition.NOT)
    assert to_memlayer_filters(both) == {"NOT": {"OR": [{"topic": {"eq": "tea"}}, {"topic": {"eq": "coffee"}}]}}
    one = MetadataFilters(filters=[tea], condition=FilterCondition.NOT)
    assert to_memlayer_filters(one) == {"NOT": {"topic": {"eq": "tea"}}}
    nested = MetadataFilters(filters=[MetadataFilters(filters=[tea, coffee]), tea], condition=FilterCondition.NOT)
    assert to_memlayer_filters(nested) == {
        "NOT": {"OR": [{"AND": [{"topic": {"eq": "tea"}}, {"topic": {"eq": "coffee"}}]}, {"topic": {"eq": "tea"}}]}}


def test_query_engine_sees_fact(store, llm):
    store.add(FACT, user_id="alice", infer=False)
    engine = RetrieverQueryEngine.from_args(MemlayerRetriever(store, user_id="alice"), llm=llm)
    engine.query("Where do I live?")
    assert FACT in llm.seen()


def test_condense_plus_context_engine_sees_fact(store, llm, texts):
    store.add(FACT, user_id="alice", infer=False)
    # The retriever does the recall; the memory keeps the chat buffer and records turns.
    memory = MemlayerMemory.from_defaults(memory=store, user_id="alice", infer=False, recall=False)
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=MemlayerRetriever(store, user_id="alice"), memory=memory, llm=llm
    )
    engine.chat("Where do I live?")
    system = llm.calls[-1][0]
    assert system.role == "system" and FACT in system.content
    assert "Where do I live?" in texts(store, user_id="alice")


async def test_condense_plus_context_engine_async_new_session(astore, llm):
    first = MemlayerMemory.from_defaults(memory=astore, user_id="alice", session_id="s1", infer=False, recall=False)
    await first.aput_messages([])
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=MemlayerRetriever(astore, user_id="alice"), memory=first, llm=llm
    )
    await engine.achat(FACT)
    second = MemlayerMemory.from_defaults(memory=astore, user_id="alice", session_id="s2", infer=False, recall=False)
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=MemlayerRetriever(astore, user_id="alice"), memory=second, llm=llm, skip_condense=True
    )
    await engine.achat("Where do I live?")
    assert FACT in llm.calls[-1][0].content
