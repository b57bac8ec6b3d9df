"""The training record: [training_record] validated at load, expectations parsed and evaluated
(every miss named by path, expected and found value), the record read from the folder, declared
in the battery exactly where it applies, and shown in results.json, the summary and the report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from checkpoint_folders import full_model_folder
from config_edits import config_error
from paths import GATE_TOML, REPO
from results_factory import build

from harness.checkpoint.discover import read_checkpoint
from harness.checkpoint.training_record import (
    TrainingRecord,
    TrainingRecordSpec,
    check_training_record,
    examine,
    flatten,
    parse_expectation,
)
from harness.config import load_config
from harness.errors import ConfigError
from harness.report.document import build_results
from harness.report.html import render_html
from harness.report.terminal import render_summary
from harness.run.battery import TRAINING_RECORD_CHECK, required_checks
from harness.run.context import RunContext
from harness.run.findings import Findings
from harness.run.outcomes import Outcomes

#: the motivating team's record: the notebook said 5e-6, the training code hard-coded 2e-5
RECORD = {
    "learning_rate": 2e-05,
    "curriculum_learning": {
        "enabled": True,
        "num_phases": 3,
        "epochs_per_phase": 4,
        "total_pairs": 15000,
        "phases": [],
    },
    "adversarial_diagnostic": {"roc_auc": 0.982, "f1_score": 0.9457, "pass_status": True},
    "notes": "",
    "grade": "high",
}
FILE = "training_metadata.json"
FINISHED = datetime(2026, 12, 1, tzinfo=UTC)


def expectation(text: str):
    return parse_expectation(text, "gate.toml", "[training_record] expect[0]")


def miss(text: str) -> str | None:
    return expectation(text).miss(RECORD)


def with_table(tmp_path: Path, table: str) -> Path:
    """The repository's gate.toml with a [training_record] table appended."""
    path = tmp_path / "gate.toml"
    path.write_text(GATE_TOML.read_text(encoding="utf-8") + "\n" + table, encoding="utf-8")
    return path


# ---- gate.toml ----------------------------------------------------------------------------


def test_a_table_loads_into_a_spec(tmp_path):
    config = load_config(
        with_table(
            tmp_path,
            '[training_record]\nfile = "training_metadata.json"\nrequired = true\n'
            'expect = ["learning_rate == 5e-6", "curriculum_learning.phases present"]\n',
        )
    )

    spec = config.training_record
    assert spec is not None and spec.file == FILE and spec.required
    assert [str(e) for e in spec.expectations] == [
        "learning_rate == 5e-06",
        "curriculum_learning.phases present",
    ]


def test_no_table_no_spec():
    assert load_config(GATE_TOML).training_record is None


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param(
            'file = "t.json"\nrequierd = true\n',
            "unknown key 'requierd' in [training_record]",
            id="unknown-key",
        ),
        pytest.param(
            "required = true\n",
            "[training_record] is missing the required key 'file'",
            id="no-file",
        ),
        pytest.param(
            'file = "../elsewhere.json"\n',
            "does not name a file inside the checkpoint folder",
            id="file-outside-the-folder",
        ),
        pytest.param(
            'file = "/abs/record.json"\n',
            "does not name a file inside the checkpoint folder",
            id="absolute-file",
        ),
        pytest.param(
            'file = "t.json"\nrequired = "yes"\n', "required = 'yes' must be a bool", id="required"
        ),
        pytest.param(
            'file = "t.json"\nexpect = "lr == 1"\n', "expect = 'lr == 1' must be a list",
            id="expect-not-a-list",
        ),
        pytest.param(
            'file = "t.json"\nexpect = [1]\n',
            "[training_record] expect[0] = 1 must be a string",
            id="expectation-not-a-string",
        ),
        pytest.param(
            'file = "t.json"\nexpect = ["lr == 1", "lr => 1"]\n',
            "[training_record] expect[1] = 'lr => 1': '=>' is not an operator",
            id="malformed-expectation-named-by-index",
        ),
    ],
)
def test_a_bad_table_is_refused_naming_the_key_and_the_fix(tmp_path, table, expected):
    message = config_error(with_table(tmp_path, "[training_record]\n" + table))

    assert expected in message


def test_an_unknown_key_is_suggested(tmp_path):
    message = config_error(with_table(tmp_path, '[training_record]\nfile = "t.json"\nexpct = []\n'))

    assert "did you mean 'expect'?" in message


#: (case id, expectation, what the message says is wrong, what its fix says)
MALFORMED = [
    ("empty", "  ", "the expectation is empty", "PATH == VALUE"),
    ("no-operator", "learning_rate 5e-6", "it has no operator", "PATH >= NUMBER"),
    ("misspelt-word", "lr presnt", "it has no operator", "did you mean 'present'?"),
    ("single-equals", "lr = 5e-6", "'=' is not an operator", "write == for equality"),
    ("not-equal", "lr != 5e-6", "'!=' is not an operator", "PATH == VALUE"),
    ("strictly-greater", "n > 1", "'>' is not an operator", "write >= (at least)"),
    ("strictly-less", "n < 1", "'<' is not an operator", "write <= (at most)"),
    ("no-value", "lr ==", "nothing follows '=='", "give the value"),
    ("no-path", "== 1", "it names no field", "dotted path"),
    ("empty-part", "a..b == 1", "'a..b' is not a dotted path", "joined with dots"),
    ("space-in-path", "my field == 1", "'my field' is not a dotted path", "joined with dots"),
    ("unquoted-string", "opt == adamw", "adamw is not a JSON value", "'opt == \"adamw\"'"),
    ("string-bound", 'lr >= "high"', "'>=' compares numbers, and \"high\" is a string", "number"),
    ("boolean-bound", "ok <= true", "'<=' compares numbers, and true is a boolean", "number"),
]


@pytest.mark.parametrize(
    ("text", "problem", "fix"), [pytest.param(*case[1:], id=case[0]) for case in MALFORMED]
)
def test_a_malformed_expectation_is_named_with_the_fix(text, problem, fix):
    with pytest.raises(ConfigError) as caught:
        expectation(text)

    message = str(caught.value)
    assert message.startswith(f"gate.toml: [training_record] expect[0] = {text!r}: {problem}")
    assert "\n  fix: " in message and fix in message.split("\n  fix: ")[1]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("learning_rate == 5e-6", "learning_rate == 5e-06"),
        ("a.b >= 1", "a.b >= 1"),
        ("a <= 0.5", "a <= 0.5"),
        ('optimizer == "adamw"', 'optimizer == "adamw"'),
        ("flag == true", "flag == true"),
        ("x == null", "x == null"),
        ("a.phases present", "a.phases present"),
        ("notes non-empty", "notes non-empty"),
    ],
)
def test_each_form_parses(text, shown):
    assert str(expectation(text)) == shown


# ---- evaluating ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "learning_rate == 2e-5",
        "learning_rate == 0.00002",
        "curriculum_learning.enabled == true",
        "curriculum_learning.num_phases == 3",
        "curriculum_learning.num_phases == 3.0",
        "curriculum_learning.num_phases >= 1",
        "curriculum_learning.num_phases >= 3",
        "curriculum_learning.num_phases <= 3",
        "adversarial_diagnostic.roc_auc >= 0.95",
        "curriculum_learning.phases present",
        "notes present",
        "adversarial_diagnostic non-empty",
        'grade == "high"',
        "curriculum_learning.phases == []",
    ],
)
def test_a_met_expectation_misses_nothing(text):
    assert miss(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "learning_rate == 5e-6", "learning_rate: expected == 5e-06, found 2e-05", id="equal"
        ),
        pytest.param(
            "curriculum_learning.num_phases >= 4",
            "curriculum_learning.num_phases: expected >= 4, found 3",
            id="at-least",
        ),
        pytest.param(
            "adversarial_diagnostic.f1_score <= 0.9",
            "adversarial_diagnostic.f1_score: expected <= 0.9, found 0.9457",
            id="at-most",
        ),
        pytest.param(
            "curriculum_learning.schedule present",
            "curriculum_learning.schedule: expected present, not in the record",
            id="present",
        ),
        pytest.param("notes non-empty", 'notes: expected non-empty, found ""', id="empty-string"),
        pytest.param(
            "curriculum_learning.phases non-empty",
            "curriculum_learning.phases: expected non-empty, found []",
            id="empty-list",
        ),
        pytest.param(
            "warmup.steps non-empty", "warmup.steps: expected non-empty, not in the record",
            id="non-empty-missing",
        ),
        pytest.param(
            "num_phases >= 1",
            "num_phases: expected >= 1, not in the record (did you mean "
            "curriculum_learning.num_phases?)",
            id="missing-path-with-a-hint",
        ),
        pytest.param(
            "learning_rate.value == 1",
            "learning_rate.value: expected == 1, not in the record",
            id="path-through-a-number",
        ),
        pytest.param(
            "grade >= 0.5",
            'grade: expected >= 0.5, found "high" (a string, not a number)',
            id="string-compared-with-at-least",
        ),
        pytest.param(
            "curriculum_learning.enabled >= 1",
            "curriculum_learning.enabled: expected >= 1, found true (a boolean, not a number)",
            id="boolean-compared-with-at-least",
        ),
        pytest.param(
            "adversarial_diagnostic.pass_status == 1",
            "adversarial_diagnostic.pass_status: expected == 1, found true (a boolean, not a "
            "number)",
            id="boolean-is-not-a-number",
        ),
        pytest.param(
            'curriculum_learning.num_phases == "3"',
            'curriculum_learning.num_phases: expected == "3", found 3 (a number, not a string)',
            id="number-is-not-a-string",
        ),
    ],
)
def test_a_missed_expectation_names_path_expected_and_found(text, message):
    assert miss(text) == message


def test_flatten_gives_dotted_paths_to_leaves():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}, "e": {}}, "f": None}) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "a.e": {},
        "f": None,
    }


# ---- the record in a folder -----------------------------------------------------------------


def spec_of(*texts: str, required: bool = False) -> TrainingRecordSpec:
    return TrainingRecordSpec(FILE, required, tuple(expectation(t) for t in texts))


def folder_with(tmp_path: Path, text: str | None) -> Path:
    folder = full_model_folder(tmp_path / "ckpt")
    if text is not None:
        (folder / FILE).write_text(text, encoding="utf-8")
    return folder


def test_every_miss_is_listed_with_the_file():
    folder = Path("/nowhere")
    record = TrainingRecord(folder / FILE, {"a": 1}, 3, ("a: expected == 2, found 1", "b: x"))

    message = check_training_record("ckpt", record)

    assert message == (
        f"ckpt: the training record {folder / FILE} misses 2 of 3 expectation(s) of "
        "[training_record] in gate.toml:\n  - a: expected == 2, found 1\n  - b: x"
    )


def test_a_record_read_from_its_folder_is_held_to_every_expectation(tmp_path):
    folder = folder_with(tmp_path, json.dumps(RECORD))
    spec = spec_of(
        "learning_rate == 5e-6", "curriculum_learning.num_phases >= 1", "notes non-empty"
    )

    record = examine(folder, spec)

    assert record.error is None and record.file == folder / FILE
    assert record.fields["curriculum_learning.num_phases"] == 3 and record.expectations == 3
    assert record.misses == (
        "learning_rate: expected == 5e-06, found 2e-05",
        'notes: expected non-empty, found ""',
    )
    assert "learning_rate: expected == 5e-06, found 2e-05" in check_training_record("c", record)
    met = examine(folder, spec_of("learning_rate == 2e-5"))
    assert check_training_record("c", met) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param('{"learning_rate": 2e-5,', "is not valid JSON", id="invalid-json"),
        pytest.param("[1, 2]", "holds a list, not an object of fields", id="not-an-object"),
        pytest.param(
            '{"notes": "' + "x" * 1_100_000 + '"}',
            "bytes, over the 1 MB limit for a record (checked before it is read)",
            id="oversized",
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, "JSON nested too deeply", id="deeply-nested"),
    ],
)
def test_an_unreadable_record_fails_naming_the_file(tmp_path, text, problem):
    folder = folder_with(tmp_path, text)

    record = examine(folder, spec_of("learning_rate == 5e-6"))
    message = check_training_record("ckpt", record)

    assert message is not None and message.startswith(f"ckpt: {folder / FILE}")
    assert problem in message and "\n  fix: " in message
    assert record.fields == {} and record.misses == ()


def test_invalid_utf8_fails_naming_the_file(tmp_path):
    folder = full_model_folder(tmp_path / "ckpt")
    (folder / FILE).write_bytes(b'{"a": "\xff"}')

    message = check_training_record("ckpt", examine(folder, spec_of()))

    assert message is not None and f"{folder / FILE}" in message and "not UTF-8" in message


def test_a_required_record_that_is_absent_fails_naming_the_file_and_the_fix(tmp_path):
    folder = folder_with(tmp_path, None)

    message = check_training_record("ckpt", examine(folder, spec_of(required=True)))

    assert message is not None and message.startswith(f"ckpt: {folder / FILE}: ")
    assert "no training record" in message
    assert f"save the training record as {FILE}" in message and "required = false" in message


def test_the_check_applies_where_the_file_is_or_where_it_is_required(tmp_path):
    with_file, without = folder_with(tmp_path, "{}"), tmp_path / "other"
    assert spec_of().applies(with_file) and not spec_of().applies(without)
    assert spec_of(required=True).applies(without)


# ---- the battery --------------------------------------------------------------------------


def test_the_battery_holds_the_check_exactly_where_it_applies(tmp_path):
    with_file = read_checkpoint(folder_with(tmp_path / "a", "{}"))
    without = read_checkpoint(folder_with(tmp_path / "b", None))
    plain = load_config(GATE_TOML)
    config = plain.replace(training_record=spec_of("a present"))
    required = plain.replace(training_record=spec_of("a present", required=True))

    def has_check(checkpoint, cfg):
        return TRAINING_RECORD_CHECK in required_checks(checkpoint, cfg, "cpu")

    assert not has_check(with_file, plain)  # no table: no such check
    assert has_check(with_file, config) and not has_check(without, config)
    assert has_check(with_file, required) and has_check(without, required)


# ---- results.json, summary, report --------------------------------------------------------


def test_results_json_holds_the_record_of_each_checkpoint_that_has_one(tmp_path):
    folder = folder_with(tmp_path, json.dumps(RECORD))
    checkpoint = read_checkpoint(folder)
    config = load_config(GATE_TOML).replace(training_record=spec_of("learning_rate == 5e-6"))
    assert config.training_record is not None
    record = examine(folder, config.training_record)
    findings = replace(Findings(), training_records={checkpoint.name: record})
    context = RunContext(
        config=config,
        checkpoints=[checkpoint],
        datasets={},
        started=FINISHED,
        environment={"device": "cpu"},
    )

    doc = build_results(context, findings, Outcomes(), finished=FINISHED)
    empty = build_results(context, Findings(), Outcomes(), finished=FINISHED)

    shown = doc["checkpoints"][0]["training_record"]
    assert shown["file"] == str(folder / FILE) and shown["error"] is None
    assert shown["fields"] == flatten(RECORD) and shown["expectations"] == 1
    assert shown["misses"] == ["learning_rate: expected == 5e-06, found 2e-05"]
    assert json.loads(json.dumps(doc))["checkpoints"][0]["training_record"] == shown
    assert empty["checkpoints"][0]["training_record"] is None  # not read: not shown


def with_record(**record) -> tuple[dict, dict]:
    results, arrays = build(candidates={"cand-a": 0.9, "cand-b": 0.8})
    base = {"file": "/m/cand-a/training_metadata.json", "fields": flatten(RECORD),
            "expectations": 2, "misses": [], "error": None}
    results["checkpoints"][0]["training_record"] = {**base, **record}
    return results, arrays


def test_the_summary_says_every_expectation_met():
    results, _ = with_record()

    summary = render_summary(results)

    n = len(flatten(RECORD))
    assert f"training record: {n} fields, every expectation met" in summary
    assert summary.count("training record:") == 1  # cand-b has none


def test_the_summary_lists_the_misses():
    results, _ = with_record(misses=["learning_rate: expected == 5e-06, found 2e-05", "b: x"])

    summary = " ".join(render_summary(results).split())

    assert (
        "training record: 2 of 2 expectation(s) missed: learning_rate: expected == 5e-06, "
        "found 2e-05; b: x" in summary
    )


def test_the_summary_says_why_a_record_could_not_be_read():
    results, _ = with_record(error="/m/t.json:1: the training record is not valid JSON\n  fix: x")

    summary = " ".join(render_summary(results).split())

    assert "training record: /m/t.json:1: the training record is not valid JSON" in summary


def test_the_report_shows_a_table_of_the_fields():
    results, arrays = with_record()

    page = render_html(results, arrays)

    assert "training record <code>/m/cand-a/training_metadata.json</code>" in page
    assert "<td>curriculum_learning.num_phases</td><td>3</td>" in page
    assert "<td>learning_rate</td><td>2e-05</td>" in page


def test_the_commented_example_in_gate_toml_holds_for_the_bundled_example(tmp_path):
    """Uncommented, gate.toml's [training_record] example loads, and the bundled adapter's
    train_settings.json meets every expectation (so the default run's verdict is unchanged)."""
    lines = GATE_TOML.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [training_record]")
    end = lines.index("# ]", start)
    lines[start : end + 1] = [line.removeprefix("# ") for line in lines[start : end + 1]]
    path = tmp_path / "gate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    spec = load_config(path).training_record

    assert spec is not None and spec.file == "train_settings.json" and not spec.required
    record = examine(REPO / "models" / "minilm-stsb-lora", spec)
    assert record.error is None and record.expectations == len(spec.expectations) >= 5
    assert check_training_record("minilm-stsb-lora", record) is None
