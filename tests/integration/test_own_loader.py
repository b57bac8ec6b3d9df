"""`harness.assert_adapter_applied` on models loaded the ways teams load them: the seed's own
path (PEFT around the whole SentenceTransformer) fails with the key-prefix diagnosis, the
right paths pass, and what a loader can still lose (the whole adapter, DoRA magnitudes, the
training) fails with its cause. The `assert_adapter_applied` fixture does the same inside a
team's own test, as a failure without a traceback.
"""

from __future__ import annotations

import warnings

import pytest
from factories import load_base, make_never_trained, make_variant_adapter
from paths import REPO
from peft import PeftModel

import harness
from harness.checkpoint.own_loader import AdapterNotApplied

pytestmark = pytest.mark.slow

EXAMPLE_ADAPTER = REPO / "models" / "minilm-stsb-lora"


def seed_loading_path(adapter_dir):
    """What shipped three no-op adapters: PEFT wraps the whole SentenceTransformer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PEFT's "Found missing adapter keys", unread
        return PeftModel.from_pretrained(load_base(), str(adapter_dir))


def peft_on_the_inner_transformer(adapter_dir):
    st = load_base()
    st[0].model = PeftModel.from_pretrained(st[0].model, str(adapter_dir))
    return st


def sentence_transformers_load_adapter(adapter_dir):
    st = load_base()
    st.load_adapter(str(adapter_dir))
    return st


def test_the_seeds_loading_path_fails_with_the_key_prefix_diagnosis():
    with pytest.raises(AdapterNotApplied) as failed:
        harness.assert_adapter_applied(seed_loading_path(EXAMPLE_ADAPTER), EXAMPLE_ADAPTER)

    message = str(failed.value)
    assert isinstance(failed.value, AssertionError)  # a plain assert failure to any test runner
    assert "minilm-stsb-lora: the adapter did not load exactly." in message
    assert "72 missing" in message and "72 unexpected" in message
    assert "the model's adapter keys carry an extra prefix '0.model.'" in message
    assert "PeftModel.from_pretrained(st[0].model, adapter_dir)" in message
    assert "the adapter does not change the embeddings" in message


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(peft_on_the_inner_transformer, id="SentenceTransformer, PEFT inside"),
        pytest.param(lambda d: peft_on_the_inner_transformer(d)[0].model, id="the PeftModel"),
        pytest.param(sentence_transformers_load_adapter, id="st.load_adapter"),
    ],
)
def test_the_right_loading_paths_pass(load):
    harness.assert_adapter_applied(load(EXAMPLE_ADAPTER), EXAMPLE_ADAPTER)


def test_a_model_without_its_adapter_fails():
    with pytest.raises(AdapterNotApplied, match="the model holds no adapter at all: none of"):
        harness.assert_adapter_applied(load_base(), EXAMPLE_ADAPTER)


def test_a_never_trained_adapter_loaded_right_fails_on_its_effect(tmp_path):
    adapter = make_never_trained(tmp_path / "never-trained")

    with pytest.raises(AdapterNotApplied) as failed:
        harness.assert_adapter_applied(peft_on_the_inner_transformer(adapter), adapter)

    message = str(failed.value)
    assert "did not load exactly" not in message  # every tensor arrived: zeros, as saved
    assert "the adapter does not change the embeddings" in message
    assert "never trained" in message


def test_sentence_transformers_load_adapter_loses_dora_magnitudes(tmp_path):
    adapter = make_variant_adapter(
        tmp_path / "dora", use_dora=True, layout="sentence-transformers"
    )
    harness.assert_adapter_applied(peft_on_the_inner_transformer(adapter), adapter)  # control

    with pytest.raises(AdapterNotApplied) as failed:
        harness.assert_adapter_applied(sentence_transformers_load_adapter(adapter), adapter)

    assert "did not load exactly" in str(failed.value)
    assert "lora_magnitude_vector" in str(failed.value)


SERVING_TEST = """
import warnings

from peft import PeftModel
from sentence_transformers import SentenceTransformer

ADAPTER = {adapter!r}
BASE = {base!r}


def load_like_the_serving_code():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = SentenceTransformer(BASE, device="cpu", local_files_only=True)
        return PeftModel.from_pretrained(base, ADAPTER)


def test_serving_loads_the_adapter(assert_adapter_applied):
    assert_adapter_applied(load_like_the_serving_code(), ADAPTER)
"""


def test_the_fixture_fails_a_serving_test_with_the_diagnosis(pytester):
    from factories import base_model_path

    pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin"]\n')
    pytester.makepyfile(
        test_serving=SERVING_TEST.format(adapter=str(EXAMPLE_ADAPTER), base=str(base_model_path()))
    )

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "the model's adapter keys carry an extra prefix '0.model.'" in text
    assert "Traceback" not in text and "own_loader.py" not in text  # no harness frames
