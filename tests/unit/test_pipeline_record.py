"""How a candidate's pipeline is compared with its base's, and what the summary says about it
(plain data, no model)."""

from harness.checkpoint.load import pipeline_differences
from harness.report.terminal import pipeline_line

BASE = {
    "modules": ["Transformer", "Pooling", "Normalize"],
    "pooling": "mean",
    "max_seq_length": 256,
    "embedding_dimension": 384,
    "normalize": True,
    "default_prompt": None,
}


def test_equal_pipelines_have_no_difference():
    assert pipeline_differences(dict(BASE), BASE) == []


def test_each_difference_is_named_with_both_values():
    shipped = {
        **BASE,
        "modules": ["Transformer", "Pooling", "Dense"],
        "pooling": "cls",
        "max_seq_length": 24,
        "embedding_dimension": 128,
        "normalize": False,
        "default_prompt": "query: ",
    }
    assert pipeline_differences(shipped, BASE) == [
        "modules Transformer, Pooling, Dense (base: Transformer, Pooling, Normalize)",
        "pooling cls (base: mean)",
        "max_seq_length 24 (base: 256)",
        "embedding_dimension 128 (base: 384)",
        "normalize no (base: yes)",
        "default_prompt query:  (base: none)",
    ]


def test_summary_names_the_difference():
    pipeline = {**BASE, "from": "checkpoint", "differs_from_base": ["pooling cls (base: mean)"]}
    assert pipeline_line(pipeline) == "pipeline differs from its base: pooling cls (base: mean)"


def test_summary_says_a_plain_peft_adapter_uses_its_base_pipeline():
    pipeline = {**BASE, "from": "base", "differs_from_base": []}
    assert pipeline_line(pipeline) == (
        "pipeline: its base's (a plain-PEFT adapter folder carries none of its own)"
    )


def test_summary_is_silent_for_a_pipeline_like_its_base_or_none():
    assert pipeline_line({**BASE, "from": "checkpoint", "differs_from_base": []}) == ""
    assert pipeline_line(None) == ""
