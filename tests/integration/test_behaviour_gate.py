"""The behaviour properties (tests/gate/test_behaviour.py) run for real: a good adapter passes
them in seconds; a model whose embeddings turn NaN past 128 tokens is caught by the long texts
the property always tries; and each property, with its settings and input sizes as the gate
runs them, fails a model with the fault it exists for (noise, padding that leaks, NaN)."""

from __future__ import annotations

import copy
import importlib.util
from types import ModuleType

import pytest
import torch
from factories import load_base
from paths import GATE_TESTS
from sentence_transformers.sentence_transformer.modules import Pooling

from harness.checkpoint.discover import read_checkpoint
from harness.checkpoint.load import LoadedCandidate, load_candidate

pytestmark = pytest.mark.slow

BEHAVIOUR = (
    "test_encoding_is_deterministic",
    "test_embedding_ignores_batch_and_padding",
    "test_any_text_gives_a_finite_embedding_of_the_right_shape",
)


def make_nan_past_128_tokens(path):
    """A full model whose position embeddings from position 128 on are NaN: short texts encode
    normally, a long one gives a NaN embedding."""
    st = load_base()
    with torch.no_grad():
        st[0].model.embeddings.position_embeddings.weight[128:] = float("nan")
    st.save_pretrained(str(path))
    return path


def test_behaviour_properties_pass_and_catch_nan_embeddings(gate_project, good_adapter):
    gate_project.include("test_behaviour.py")
    broken = make_nan_past_128_tokens(gate_project.checkpoint_path("nan-positions"))

    run = gate_project.run(
        good_adapter, broken, args=["test_behaviour_battery.py", "-k", "good or any_text"]
    )

    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert run.outcomes("good-adapter") == dict.fromkeys(BEHAVIOUR, "PASSED")
    assert run.outcomes("nan-positions") == {BEHAVIOUR[2]: "FAILED"}
    message = run.section(BEHAVIOUR[2], "nan-positions")
    assert "NaN or Inf in the embeddings of" in message
    assert "'word word word" in message and "(2000 characters)" in message
    assert "REJECT   nan-positions: any_text_gives_a_finite_embedding_of_the_right_shape" in (
        run.summary()
    )


# ---- the faults each property exists for, on a model in memory ------------------------------


@pytest.fixture(scope="module")
def properties() -> ModuleType:
    """tests/gate/test_behaviour.py under a name of its own (its functions are called here with
    a candidate, not collected)."""
    spec = importlib.util.spec_from_file_location(
        "gate_behaviour_properties", GATE_TESTS / "test_behaviour.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def adapter(good_adapter_template) -> LoadedCandidate:
    return load_candidate(read_checkpoint(good_adapter_template), {}, "cpu")


def _pooling(model) -> Pooling:
    return next(module for module in model if isinstance(module, Pooling))


def _long(features: dict) -> torch.Tensor:
    """Which texts of the batch have more than 128 tokens (a column, for broadcasting)."""
    return (features["attention_mask"].sum(dim=1) > 128)[:, None]


def noisy(model) -> None:
    """Noise of 1e-5 on every embedding: a model that is not deterministic."""
    def hook(module, args, out):
        out["sentence_embedding"] = out["sentence_embedding"] + 1e-5 * torch.randn_like(
            out["sentence_embedding"]
        )
    _pooling(model).register_forward_hook(hook)


def noisy_past_128_tokens(model) -> None:
    """Not deterministic on long texts only."""
    def hook(module, args, out):
        noise = 1e-3 * torch.randn_like(out["sentence_embedding"])
        out["sentence_embedding"] = out["sentence_embedding"] + _long(out) * noise
    _pooling(model).register_forward_hook(hook)


def pooling_counts_padding(model) -> None:
    """Mean pooling over the padded positions too (the attention mask ignored when pooling)."""
    def hook(module, args):
        features = dict(args[0])
        features["attention_mask"] = torch.ones_like(features["attention_mask"])
        return (features, *args[1:])
    _pooling(model).register_forward_pre_hook(hook)


def attention_sees_padding(model) -> None:
    """The transformer attends to padded positions; pooling still ignores them."""
    kept = {}

    def before(module, args):
        features = dict(args[0])
        kept["mask"] = features["attention_mask"]
        features["attention_mask"] = torch.ones_like(kept["mask"])
        return (features, *args[1:])

    def after(module, args, out):
        out["attention_mask"] = kept["mask"]
    model[0].register_forward_pre_hook(before)
    model[0].register_forward_hook(after)


def nan_for_unknown_tokens(model) -> None:
    """A NaN row in the word embeddings for [UNK]: ordinary text encodes, an emoji does not."""
    embeddings = next(m for name, m in model.named_modules() if name.endswith("word_embeddings"))
    with torch.no_grad():
        embeddings.weight[model.tokenizer.unk_token_id] = float("nan")


FAULTS = {
    noisy: ("test_encoding_is_deterministic", "the model is not deterministic"),
    noisy_past_128_tokens: ("test_encoding_is_deterministic", "the model is not deterministic"),
    pooling_counts_padding: ("test_embedding_ignores_batch_and_padding", "padding or the batch"),
    attention_sees_padding: ("test_embedding_ignores_batch_and_padding", "padding or the batch"),
    nan_for_unknown_tokens: ("test_any_text_gives_a_finite_embedding_of_the_right_shape", "NaN"),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=[fault.__name__ for fault in FAULTS])
def test_each_property_catches_its_fault(properties, adapter, fault):
    """The property a fault breaks fails on a copy of a good adapter with that fault; the
    unbroken adapter passes the same property."""
    name, message = FAULTS[fault]
    check = getattr(properties, name)
    check(candidate=adapter)
    broken = LoadedCandidate(adapter.checkpoint, copy.deepcopy(adapter.model), adapter.base_path)
    fault(broken.model)

    with pytest.raises(AssertionError, match=message):
        check(candidate=broken)
