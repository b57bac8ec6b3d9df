"""gate.toml's retrieval sets and analysis tables: the repository's file reads as documented,
and every mistake names its key and the fix."""

from __future__ import annotations

import pytest
from config_edits import config_error, edited
from paths import GATE_TOML

from harness.config import load_config
from harness.errors import ConfigError
from harness.run.battery import configured_checks


def test_the_repository_gate_toml_has_its_retrieval_views_and_analyses():
    config = load_config(GATE_TOML)
    by_name = {spec.name: spec for spec in config.datasets}

    it = by_name["it_incidents_retrieval"]
    assert (it.kind, it.role, it.derived_from, it.exclude_self) == (
        "retrieval", "gate", "it_incidents", True
    )
    assert it.path == by_name["it_incidents"].path  # a derived set's file is its pair set's
    assert it.targets == {"recall@5": pytest.approx(0.90)}
    assert "mrr@10" in it.retrieval_metrics and "map@100" in it.retrieval_metrics
    mrpc = by_name["mrpc_retrieval"]
    assert (mrpc.role, mrpc.derived_from, mrpc.targets) == ("reference", "mrpc_test", {})
    assert config.comparison.retrieval_metrics == ("mrr@10", "ndcg@10")
    analyses = config.analyses
    assert analyses.slices.gate and analyses.slices.n_permutations == 10_000
    assert analyses.fp_rate.judged_on == "estimate"
    assert analyses.leakage is not None and analyses.leakage.record_field == "data.file"
    assert analyses.matryoshka.dimensions == (384, 256, 128, 64)
    assert configured_checks(config) == {
        "training_record": False,
        "no_slice_worse": True,
        "high_overlap_fp_rate_under_target": False,
        "matryoshka_targets": False,
        "no_leakage": True,
    }


def test_optional_analysis_targets_create_their_checks(tmp_path):
    path = edited(tmp_path, r"^# fp_rate_target = 0.30", "fp_rate_target = 0.30")
    text = path.read_text(encoding="utf-8") + '\n[matryoshka.targets."128"]\nspearman = 0.75\n'
    path.write_text(text, encoding="utf-8")

    config = load_config(path)

    assert config.analyses.overlap.fp_rate_target == pytest.approx(0.30)
    assert config.analyses.matryoshka.targets == {128: {"spearman": 0.75}}
    checks = configured_checks(config)
    assert checks["high_overlap_fp_rate_under_target"] and checks["matryoshka_targets"]


@pytest.mark.parametrize(
    ("pattern", "replacement", "expected"),
    [
        pytest.param(
            r'^derived_from = "it_incidents"',
            'derived_from = "it_incident"',
            "derived_from = 'it_incident' is not a pair data set",
            id="unknown-source",
        ),
        pytest.param(
            r'^derived_from = "it_incidents"',
            'derived_from = "it_incidents"\npath = "somewhere"',
            "needs exactly one of derived_from",
            id="both-sources",
        ),
        pytest.param(
            r'^"recall@5" = 0.90',
            '"recall@50" = 0.90',
            "has a target on recall@50, which its metrics do not compute",
            id="target-not-computed",
        ),
        pytest.param(
            r'^"recall@5" = 0.90',
            "spearman = 0.90",
            "'spearman' in [datasets.it_incidents_retrieval.targets] is not a retrieval metric",
            id="pair-metric-as-retrieval-target",
        ),
        pytest.param(
            r'^"recall@5" = 0.90.*$',
            "",
            "gating retrieval set 'it_incidents_retrieval' has no target",
            id="gating-without-target",
        ),
        pytest.param(
            r'^# metrics = \["recall@1", .*$',
            'metrics = ["recall@5"]',
            "leaves out mrr@10, ndcg@10, which [comparison] retrieval_metrics compares",
            id="compared-metric-not-computed",
        ),
        pytest.param(
            r'^derived_from = "it_incidents"',
            'derived_from = "it_incidents"\nqrels_split = "dev"',
            "sets qrels_split, which only a BEIR folder (path) has",
            id="qrels-split-on-a-derived-set",
        ),
        pytest.param(
            r'^kind = "retrieval"\nrole = "gate"',
            'kind = "retrieve"\nrole = "gate"',
            "kind = 'retrieve' is not one of",
            id="unknown-kind",
        ),
        pytest.param(
            r"^retrieval_metrics = .*$",
            'retrieval_metrics = ["mrr"]',
            "'mrr' is not a retrieval metric",
            id="comparison-retrieval-metric",
        ),
        pytest.param(
            r"^judged_on = .*$",
            'judged_on = "bound"',
            "judged_on = 'bound' is not one of",
            id="fp-rate-judged-on",
        ),
        pytest.param(
            r"^# metrics = \[\"spearman\", \"roc_auc\"\]  # default.*$",
            'metrics = ["spearmann"]',
            "[slices] metrics names an unknown metric 'spearmann'",
            id="slice-metric",
        ),
        pytest.param(
            r"^dimensions = \[384, 256, 128, 64\]",
            "dimensions = [384, 384]",
            "must be distinct positive whole numbers",
            id="matryoshka-duplicate",
        ),
        pytest.param(
            r'^record_field = "data.file"',
            'record_field = "data.file"\npath = "train.csv"',
            "[leakage] needs exactly one of path",
            id="leakage-two-sources",
        ),
        pytest.param(
            r'^record = "train_settings.json"',
            'record = "../train_settings.json"',
            "does not name a file inside the checkpoint folder",
            id="leakage-record-outside",
        ),
        pytest.param(
            r"^n_permutations = 10000",
            "n_permutations = 10",
            "n_permutations = 10 is outside its range",
            id="too-few-permutations",
        ),
    ],
)
def test_a_bad_analysis_setting_is_refused(tmp_path, pattern, replacement, expected):
    assert expected in config_error(edited(tmp_path, pattern, replacement))


def test_a_matryoshka_target_names_a_listed_dimension(tmp_path):
    path = edited(tmp_path, r"^dimensions = \[384, 256, 128, 64\]", "dimensions = [256]")
    path.write_text(
        path.read_text(encoding="utf-8") + '\n[matryoshka.targets."128"]\nspearman = 0.7\n',
        encoding="utf-8",
    )
    assert "'128' is not one of the listed dimensions [256]" in config_error(path)


def test_a_dimension_wider_than_the_model_is_a_config_error():
    spec = load_config(GATE_TOML).analyses.matryoshka
    with pytest.raises(ConfigError) as caught:
        spec.check_width(256)  # the default lists 384
    message = str(caught.value)
    assert message.startswith(str(GATE_TOML))
    assert "dimension 384 is out of range: the embeddings have 256 dimensions" in message
    assert "list only dimensions up to 256" in message
    spec.check_width(384)
