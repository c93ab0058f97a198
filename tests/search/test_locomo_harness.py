"""The LOCOMO harness (benchmarks/locomo.py) keeps working: its helpers, and a small run end to end."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmarks import locomo

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "locomo" / "locomo_dev.json"


def test_evidence_ids_are_normalised():
    assert locomo.normalise_evidence(["D:11:26"]) == ["D11:26"]
    assert locomo.normalise_evidence(["D30:05"]) == ["D30:5"]
    assert locomo.normalise_evidence(["D8:6; D9:17", "D8:6"]) == ["D8:6", "D9:17"]
    assert locomo.normalise_evidence(["D", ""]) == []


def test_session_dates_and_turn_text():
    assert locomo.parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
    assert locomo.parse_session_date("12:09 am on 13 September, 2023").hour == 0
    assert locomo.turn_text({"speaker": "Ann", "text": "Hi!"}) == 'Ann said, "Hi!"'
    turn = {"speaker": "Ann", "text": "Look.", "blip_caption": "a photo of a cat"}
    assert locomo.turn_text(turn) == 'Ann said, "Look." and shared a photo of a cat.'


def test_recall_is_locomo_style():
    assert locomo.recall_at(["D1:1", "D2:2"], ["D1:1", None, "D3:3", "D2:2"], (1, 2, 4)) == [0.5, 0.5, 1.0]
    # an extracted memory links to every turn it came from
    assert locomo.recall_at(["D1:1", "D2:2"], [["D3:3", "D2:2"], "D1:1"], (1, 2)) == [0.5, 1.0]


def _tiny_dataset() -> list[dict]:
    conv = {
        "speaker_a": "Ann", "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a puppy called Rex last week."},
            {"speaker": "Bob", "dia_id": "D1:2", "text": "Congrats! What breed is it?"},
            {"speaker": "Ann", "dia_id": "D1:3", "text": "A beagle, he loves long walks.", "blip_caption": "a dog"},
        ],
        "session_2_date_time": "10:37 am on 27 June, 2023",
        "session_2": [
            {"speaker": "Bob", "dia_id": "D2:1", "text": "I started learning the violin."},
            {"speaker": "Ann", "dia_id": "D2:2", "text": "Nice, I only play the piano."},
        ],
    }
    qa = [
        {"question": "What is the name of Ann's puppy?", "answer": "Rex", "evidence": ["D1:1"], "category": 4},
        {"question": "Which instrument is Bob learning?", "answer": "violin", "evidence": ["D2:01"], "category": 4},
        {"question": "What instruments do Ann and Bob play?", "answer": "piano, violin",
         "evidence": ["D2:1; D2:2"], "category": 1},
        {"question": "Unanswerable?", "answer": "", "evidence": [], "category": 5},
    ]
    observation = {
        "session_1_observation": {"Ann": [["Ann adopted a beagle puppy named Rex.", "D1:1"]], "Bob": []},
        "session_2_observation": {"Bob": [["Bob is learning the violin.", ["D2:1", "D2:2"]]],
                                  "Ann": [["Ann plays the piano.", "D2:02"], ["", "D2:2"], ["No source.", "D"]]},
    }
    return [{"sample_id": "tiny", "conversation": conv, "qa": qa, "observation": observation}]


def test_harness_end_to_end_on_a_tiny_conversation(tmp_path):
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps(_tiny_dataset()), encoding="utf-8")
    out = tmp_path / "r.json"
    assert locomo.main([str(data), "--embedder", "hash", "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["configs"]) == {"default", "vector (baseline)"}
    assert result["stats"] == {**result["stats"], "conversations": 1, "memories": 5, "questions": 3}
    for cfg in result["configs"].values():
        overall = cfg["recall"]["overall"]
        assert overall["n"] == 3
        assert overall["R@25"] == 100.0  # five memories: everything is retrieved
        assert 0 <= overall["R@1"] <= overall["R@5"] <= overall["R@10"] <= 100
        assert cfg["latency_ms"]["p50"] > 0
    md = tmp_path / "r.md"
    locomo.main([str(data), "--embedder", "hash", "--out", str(md), "--quiet", "--per-turn", "--baseline", "none"])
    assert "| default | **overall** | 3 |" in md.read_text(encoding="utf-8")


def test_observations_replayed_as_the_llm_extraction(tmp_path):
    sample = _tiny_dataset()[0]
    assert locomo.observations(sample) == {
        1: [("Ann adopted a beagle puppy named Rex.", ["D1:1"])],
        2: [("Bob is learning the violin.", ["D2:1", "D2:2"]), ("Ann plays the piano.", ["D2:2"])],
    }
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps([sample]), encoding="utf-8")
    for mode, memories in (("only", 3), ("beside", 8)):
        out = tmp_path / f"{mode}.json"
        assert locomo.main([str(data), "--embedder", "hash", "--out", str(out), "--quiet", "--extracted", mode]) == 0
        result = json.loads(out.read_text(encoding="utf-8"))
        assert result["stats"]["memories"] == memories  # facts went through add(infer=True): one ADD each
    # facts only: three memories linked to four turns; the list question's two turns come from one fact
    only = json.loads((tmp_path / "only.json").read_text(encoding="utf-8"))["configs"]["default"]["recall"]
    assert only["single-hop"]["R@5"] == 100.0 and only["multi-hop"]["R@5"] == 100.0


def test_extracted_needs_observations(tmp_path):
    sample = _tiny_dataset()[0]
    del sample["observation"]
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps([sample]), encoding="utf-8")
    with pytest.raises(SystemExit, match="observation"):
        locomo.main([str(data), "--embedder", "hash", "--quiet", "--extracted", "beside"])


@pytest.mark.skipif(not DATA.is_file(), reason="the LOCOMO dev split is not available")
def test_harness_on_a_slice_of_the_dev_split(tmp_path):
    out = tmp_path / "slice.json"
    args = [str(DATA), "--limit-conversations", "1", "--limit-questions", "30", "--embedder", "hash", "--out", str(out),
            "--quiet"]
    assert locomo.main(args) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["stats"]["questions"] == 30
    assert result["stats"]["memories"] > 300
    default = result["configs"]["default"]["recall"]["overall"]
    vector = result["configs"]["vector (baseline)"]["recall"]["overall"]
    assert default["n"] == vector["n"] == 30
    assert default["R@10"] >= vector["R@10"]  # hybrid retrieval beats the dense baseline
