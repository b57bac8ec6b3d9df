"""Pair data as teams keep it: TSV, one JSON array, Parquet, and their own column names mapped
by gate.toml's `columns`; every format's rows go through the same checks."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from config_edits import config_error, edited
from paths import GATE_TOML, REPO

from harness.config import load_config
from harness.errors import DataError
from harness.quality.evaluate import load_dataset
from harness.quality.metrics import ThresholdPolicy
from harness.quality.pairs import MAPPED_FORMATS, read_pairs

#: the layout of SICK and similar public sets: their own names, an id and an extra column
SICK_TSV = (
    "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
    "1\tA group of kids is playing in a yard\tA group of boys is playing outdoors\t4.5\tNEUTRAL\n"
    '2\tA man says "hello"\tA woman is dancing\t1.2\tNEUTRAL\n'
    "3\tTwo dogs are fighting\tTwo dogs are wrestling\t4.9\tENTAILMENT\n"
)
SICK_COLUMNS = {"sentence1": "sentence_A", "sentence2": "sentence_B", "score": "relatedness_score"}

#: one data set with every column, text that needs quoting in CSV/TSV, and non-ASCII text
ROWS = [
    {"sentence1": "disk full, again", "sentence2": 'no "space" left', "score": 4.5,
     "label": 1, "split": "calibration", "slice": "storage"},
    {"sentence1": "vpn down\tsince 9", "sentence2": "the printer jams", "score": 0.25,
     "label": 0, "split": "calibration", "slice": "network"},
    {"sentence1": "café closed", "sentence2": "the café is shut", "score": 3.0,
     "label": 1, "split": "test", "slice": "other"},
    {"sentence1": "dns fails", "sentence2": "line one\nline two", "score": 1.0,
     "label": 0, "split": "test", "slice": "network"},
]  # fmt: skip


def write_as(path: Path, fmt: str, rows: list[dict]) -> Path:
    """Write *rows* (dicts with the same keys) to *path* in format *fmt*, as a tool would."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    elif fmt in ("csv", "tsv"):
        out = io.StringIO(newline="")
        dialect = "excel" if fmt == "csv" else "excel-tab"
        writer = csv.DictWriter(out, list(rows[0]), dialect=dialect)
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8", newline="")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        raise AssertionError(fmt)
    return path


def renamed(rows: list[dict], names: dict[str, str]) -> list[dict]:
    return [{names.get(k, k): v for k, v in row.items()} for row in rows]


def data_error(call, path: Path, where: str, *fragments: str) -> str:
    """The DataError *call* raises: it starts with *where* (``path:line``, ``path: item 3``)
    and names every fragment and a fix."""
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(f"{where}: "), message
    assert "\n  fix: " in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- reading


def test_a_sick_style_tsv_is_read_through_a_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "sick.tsv"
    path.write_text(SICK_TSV, encoding="utf-8")
    ds = read_pairs(path, "tsv", columns=SICK_COLUMNS)
    assert ds.sentence1 == (
        "A group of kids is playing in a yard",
        'A man says "hello"',
        "Two dogs are fighting",
    )
    assert ds.sentence2[2] == "Two dogs are wrestling"
    assert ds.scores is not None and ds.scores.tolist() == [4.5, 1.2, 4.9]
    assert ds.labels is None and ds.splits is None and ds.slices is None


def test_a_json_array_is_read(tmp_path: Path) -> None:
    ds = read_pairs(write_as(tmp_path / "pairs.json", "json", ROWS), "json")
    assert ds.sentence1 == tuple(r["sentence1"] for r in ROWS)
    assert ds.labels is not None and ds.labels.tolist() == [1, 0, 1, 0]
    assert ds.splits == ("calibration", "calibration", "test", "test")


def test_a_parquet_table_is_read(tmp_path: Path) -> None:
    ds = read_pairs(write_as(tmp_path / "pairs.parquet", "parquet", ROWS), "parquet")
    assert ds.sentence2 == tuple(r["sentence2"] for r in ROWS)
    assert ds.scores is not None and ds.scores.tolist() == [4.5, 0.25, 3.0, 1.0]
    assert ds.slices == ("storage", "network", "other", "network")


def test_the_same_data_in_every_header_format_has_one_fingerprint(tmp_path: Path) -> None:
    names = {"sentence1": "left", "sentence2": "right", "label": "gold", "split": "part"}
    plain = {
        fmt: read_pairs(write_as(tmp_path / f"p.{fmt}", fmt, ROWS), fmt) for fmt in MAPPED_FORMATS
    }
    mapped = {
        fmt: read_pairs(
            write_as(tmp_path / f"m.{fmt}", fmt, renamed(ROWS, names)), fmt, columns=names
        )
        for fmt in MAPPED_FORMATS
    }
    assert set(plain) == {"csv", "tsv", "jsonl", "json", "parquet"}
    fingerprints = {ds.fingerprint for ds in [*plain.values(), *mapped.values()]}
    assert len(fingerprints) == 1, {fmt: ds.fingerprint[:12] for fmt, ds in plain.items()}
    changed = [dict(ROWS[0], score=4.0), *ROWS[1:]]
    assert read_pairs(write_as(tmp_path / "c.tsv", "tsv", changed), "tsv").fingerprint not in (
        fingerprints
    )


def test_an_unmapped_key_keeps_its_own_name(tmp_path: Path) -> None:
    path = write_as(tmp_path / "p.csv", "csv", renamed(ROWS, {"sentence1": "query"}))
    ds = read_pairs(path, "csv", columns={"sentence1": "query"})
    plain = read_pairs(write_as(tmp_path / "q.csv", "csv", ROWS), "csv")
    assert ds.fingerprint == plain.fingerprint


def test_a_gating_set_is_split_through_a_mapped_split_column(tmp_path: Path) -> None:
    names = {"split": "part", "label": "gold"}
    path = write_as(tmp_path / "pairs.parquet", "parquet", renamed(ROWS, names))
    config = load_config(
        edited(
            tmp_path,
            r'^path = "fixtures/it_incidents.jsonl"\nformat = "jsonl"',
            f'path = "{path}"\nformat = "parquet"\n'
            'columns = { split = "part", label = "gold" }',
        )
    )
    spec = next(s for s in config.datasets if s.name == "it_incidents")
    assert spec.columns == names
    loaded = load_dataset(spec, ThresholdPolicy("best_f1"))
    assert loaded.calibration is not None and len(loaded.calibration) == 2
    assert loaded.test.sentence1 == ("café closed", "dns fails")


# --------------------------------------------------------------------------- refusals


def test_a_mapped_column_missing_from_a_tsv_names_the_column_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "sick.tsv"
    path.write_text(SICK_TSV, encoding="utf-8")
    columns = dict(SICK_COLUMNS, score="relatedness")
    message = data_error(
        lambda: read_pairs(path, "tsv", columns=columns),
        path,
        f"{path}:1",
        "missing column 'relatedness' in the header (found: 'pair_ID', 'sentence_A'",
        "gate.toml's columns of this data set reads score from it (score = \"relatedness\")",
        "fix: set score in columns to the name the file gives that column",
    )
    assert "'relatedness_score'" in message


def test_a_mapped_column_missing_from_a_json_array_names_the_item(tmp_path: Path) -> None:
    path = write_as(tmp_path / "pairs.json", "json", ROWS)
    data_error(
        lambda: read_pairs(path, "json", columns={"sentence2": "text_b"}),
        path,
        f"{path}: item 0",
        "missing column 'text_b'",
        "reads sentence2 from it",
    )


def test_a_mapped_optional_column_absent_from_every_jsonl_row_is_refused(tmp_path: Path) -> None:
    path = write_as(tmp_path / "pairs.jsonl", "jsonl", ROWS)
    data_error(
        lambda: read_pairs(path, "jsonl", columns={"score": "similarity"}),
        path,
        f"{path}:1",
        "missing column 'similarity'",
        "reads score from it",
    )


def test_a_bad_json_item_is_named_by_its_index(tmp_path: Path) -> None:
    rows = [*ROWS[:2], dict(ROWS[2], label=2), ROWS[3]]
    path = write_as(tmp_path / "pairs.json", "json", rows)
    data_error(lambda: read_pairs(path, "json"), path, f"{path}: item 2", "label must be 0 or 1")


def test_a_json_item_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([ROWS[0], ["a", "b", 1]]), encoding="utf-8")
    data_error(lambda: read_pairs(path, "json"), path, f"{path}: item 1", "expected a JSON object")


def test_a_json_item_missing_a_column_other_items_have_names_both(tmp_path: Path) -> None:
    rows = [ROWS[0], {k: v for k, v in ROWS[1].items() if k != "split"}]
    path = write_as(tmp_path / "pairs.json", "json", rows)
    data_error(
        lambda: read_pairs(path, "json"),
        path,
        f"{path}: item 1",
        "missing column 'split', which other rows have (e.g. item 0)",
    )


def test_json_that_is_not_one_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps({"data": ROWS}), encoding="utf-8")
    data_error(lambda: read_pairs(path, "json"), path, str(path), "one JSON array", "jsonl")


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text('[\n  {"sentence1": "a", "sentence2": "b", "score": 1},\n  {"sentence1": \n]')
    data_error(lambda: read_pairs(path, "json"), path, f"{path}:4", "invalid JSON")


def test_a_bad_parquet_row_is_named_by_its_number(tmp_path: Path) -> None:
    rows = [ROWS[0], dict(ROWS[1], score=float("nan")), ROWS[2]]
    path = write_as(tmp_path / "pairs.parquet", "parquet", rows)
    data_error(lambda: read_pairs(path, "parquet"), path, f"{path}: row 1", "NaN or infinite")


def test_a_null_in_a_mapped_parquet_column_names_the_row_and_column(tmp_path: Path) -> None:
    rows = renamed([ROWS[0], ROWS[1], dict(ROWS[2], sentence2=None)], {"sentence2": "b"})
    path = write_as(tmp_path / "pairs.parquet", "parquet", rows)
    data_error(
        lambda: read_pairs(path, "parquet", columns={"sentence2": "b"}),
        path,
        f"{path}: row 2",
        "b must be a string, got null",
    )


def test_a_parquet_label_column_of_text_is_refused(tmp_path: Path) -> None:
    rows = renamed([dict(r, label=str(r["label"])) for r in ROWS], {"label": "gold"})
    path = write_as(tmp_path / "pairs.parquet", "parquet", rows)
    data_error(
        lambda: read_pairs(path, "parquet", columns={"label": "gold"}),
        path,
        f"{path}: row 0",
        "label (column 'gold') must be 0 or 1, got '1'",
    )


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    path = write_as(tmp_path / "pairs.parquet", "csv", ROWS)
    data_error(lambda: read_pairs(path, "parquet"), path, str(path), "not a readable Parquet file")


def test_a_bad_tsv_row_names_its_line_and_the_files_column(tmp_path: Path) -> None:
    path = tmp_path / "sick.tsv"
    path.write_text(SICK_TSV + "4\ta\tb\thigh\tNEUTRAL\n", encoding="utf-8")
    data_error(
        lambda: read_pairs(path, "tsv", columns=SICK_COLUMNS),
        path,
        f"{path}:5",
        "score 'high' in column 'relatedness_score' is not a number",
    )


def test_a_tsv_row_with_too_few_cells_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "sick.tsv"
    path.write_text(SICK_TSV + "4\ta\tb\n", encoding="utf-8")
    data_error(
        lambda: read_pairs(path, "tsv", columns=SICK_COLUMNS),
        path,
        f"{path}:5",
        "wrong number of columns: 3 tab-separated columns",
    )


@pytest.mark.parametrize("fmt", ["stsb", "mrpc"])
def test_a_mapping_on_a_fixed_layout_is_refused_when_read(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"pairs.{fmt}"
    path.write_text("anything\n", encoding="utf-8")
    data_error(
        lambda: read_pairs(path, fmt, columns={"score": "x"}),
        path,
        str(path),
        f"format {fmt!r} has a fixed layout",
        "tsv",
    )


# --------------------------------------------------------------------------- gate.toml

STSB_FORMAT = r'^format = "stsb"'
IT_FORMAT = r'^format = "jsonl"'


@pytest.mark.parametrize(
    ("pattern", "columns", "fragments"),
    [
        pytest.param(
            STSB_FORMAT,
            '{ score = "relatedness" }',
            ("[datasets.stsb_test] columns renames columns", "fixed layout", "csv, tsv"),
            id="mapping-on-stsb",
        ),
        pytest.param(
            r'^format = "mrpc"',
            '{ label = "gold" }',
            ("[datasets.mrpc_test] columns renames columns", "format 'mrpc' has a fixed layout"),
            id="mapping-on-mrpc",
        ),
        pytest.param(
            IT_FORMAT,
            '{ sentence_1 = "text_a" }',
            (
                "unknown key 'sentence_1' in [datasets.it_incidents] columns",
                "did you mean 'sentence1'?",
                "sentence1, sentence2, score, label, split, slice",
            ),
            id="unknown-mapping-key",
        ),
        pytest.param(
            IT_FORMAT,
            '{ score = "" }',
            ("columns score = '' must be a non-empty string",),
            id="empty-column-name",
        ),
        pytest.param(
            IT_FORMAT,
            "{ score = 3 }",
            ("columns score = 3 must be a non-empty string",),
            id="column-name-not-a-string",
        ),
        pytest.param(
            IT_FORMAT,
            '{ sentence1 = "text", sentence2 = "text" }',
            ("maps both sentence1 and sentence2 to column 'text'",),
            id="two-keys-one-column",
        ),
        pytest.param(
            IT_FORMAT,
            '"sentence_A"',
            ("columns = 'sentence_A' must be a dict",),
            id="mapping-not-a-table",
        ),
    ],
)
def test_bad_column_mappings_are_refused_at_config_load(
    tmp_path: Path, pattern: str, columns: str, fragments: tuple[str, ...]
) -> None:
    fmt = pattern.split('"')[1]
    path = edited(tmp_path, pattern, f'format = "{fmt}"\ncolumns = {columns}')
    message = config_error(path)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_a_column_mapping_is_carried_by_the_data_set_spec(tmp_path: Path) -> None:
    path = edited(tmp_path, IT_FORMAT, 'format = "jsonl"\ncolumns = { score = "sim" }')
    specs = {spec.name: spec for spec in load_config(path).datasets}
    assert specs["it_incidents"].columns == {"score": "sim"}
    assert specs["stsb_test"].columns == {}


def test_the_readmes_column_mapping_example_reads_a_sick_style_file(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(\[datasets\.sick\]\n.*?)```", readme, re.S)
    assert example, "README.md shows a data set read through a column mapping"
    rows = [
        ("1", "a kid plays in a yard", "a boy plays outdoors", "4.5", "TRIAL"),
        ("2", "a man says hello", "a woman is dancing", "1.2", "TRIAL"),
        ("3", "two dogs fight", "two dogs wrestle", "4.9", "TEST"),
        ("4", "a cat sleeps", "stocks fell", "1.0", "TEST"),
        ("5", "a child is running", "a kid runs", "4.2", "TRAIN"),
    ]
    data = tmp_path / "SICK.tsv"
    data.write_text(
        "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tSemEval_set\n"
        + "".join("\t".join(row) + "\n" for row in rows),
        encoding="utf-8",
    )
    config = tmp_path / "gate.toml"
    config.write_text(
        GATE_TOML.read_text(encoding="utf-8")
        + "\n"
        + example.group(1).replace('"data/SICK.tsv"', f'"{data}"'),
        encoding="utf-8",
    )
    spec = next(s for s in load_config(config).datasets if s.name == "sick")
    loaded = load_dataset(spec, ThresholdPolicy("best_f1"))
    assert loaded.test.sentence1 == ("two dogs fight", "a cat sleeps")
    assert loaded.calibration is not None and len(loaded.calibration) == 2
    assert loaded.test.labels is not None and loaded.test.labels.tolist() == [1, 0]


def test_importing_the_readers_never_imports_pyarrow() -> None:
    code = (
        "import sys, harness.quality.pairs\n"
        "assert 'pyarrow' not in sys.modules, 'pyarrow imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
