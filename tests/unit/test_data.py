"""Unit tests for harness.quality.pairs: the pair readers, their errors, fingerprints and
helpers."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATASETS

from harness.errors import DataError
from harness.quality.pairs import FORMATS, PairDataset, read_pairs

BOM = b"\xef\xbb\xbf"


def write(path: Path, text: str, *, crlf: bool = False, bom: bool = False) -> Path:
    """Write *text* (LF line endings) to *path* as UTF-8, optionally with CRLF and a BOM."""
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((BOM if bom else b"") + text.encode("utf-8"))
    return path


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@contextmanager
def raises_data_error(
    path: Path, line: int | None, *fragments: str
) -> Iterator[pytest.ExceptionInfo[DataError]]:
    """Expect a DataError whose message starts with ``path:line`` and names every fragment."""
    with pytest.raises(DataError) as info:
        yield info
    err = info.value
    message = str(err)
    where = str(path) if line is None else f"{path}:{line}"
    assert message.startswith(f"{where}: "), message
    assert err.line == line, message
    assert "\n  fix: " in message and err.fix, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


STSB_TEXT = (
    "main-captions\tMSRvid\t2012test\t0001\t5.000\tA man is playing a flute.\t"
    "A man plays the flute.\n"
    'main-news\theadlines\t2013\t0002\t1.200\tHe said "no" to it.\t'
    "A 'quoted\" word.\tnote one\tnote two\n"
    "main-forums\tdeft-forum\t2014\t0003\t0.000\tCats sleep.\tStocks fell.\n"
)
STSB_S1 = ("A man is playing a flute.", 'He said "no" to it.', "Cats sleep.")
STSB_S2 = ("A man plays the flute.", "A 'quoted\" word.", "Stocks fell.")
STSB_SCORES = (5.0, 1.2, 0.0)

MRPC_TEXT = (
    "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    '1\t101\t102\tAmrozi called him "the witness".\tHe was called "the witness" by Amrozi.\n'
    "0\t103\t104\tYucaipa sold the chain in 1998.\tYucaipa bought it in 1995.\n"
)


# --------------------------------------------------------------------------- readers


def test_jsonl_reads_all_columns_and_skips_blank_lines(tmp_path: Path) -> None:
    text = (
        jsonl(
            {
                "sentence1": "a",
                "sentence2": "b",
                "score": 4,
                "label": 1,
                "split": "dev",
                "slice": "x",
            }
        )
        + "\n   \n"
        + jsonl(
            {
                "sentence1": "c",
                "sentence2": "d",
                "score": 0.5,
                "label": 0,
                "split": "test",
                "slice": "y",
                "id": 7,
            }
        )
    )
    path = write(tmp_path / "pairs.jsonl", text)
    ds = read_pairs(path, "jsonl")
    assert ds.name == "pairs" and ds.path == path and len(ds) == 2
    assert ds.sentence1 == ("a", "c") and ds.sentence2 == ("b", "d")
    assert ds.scores is not None and ds.scores.dtype == np.float64
    assert ds.scores.tolist() == [4.0, 0.5]
    assert ds.labels is not None and ds.labels.dtype == np.int64 and ds.labels.tolist() == [1, 0]
    assert ds.splits == ("dev", "test") and ds.slices == ("x", "y")
    assert re.fullmatch(r"[0-9a-f]{64}", ds.fingerprint)
    assert read_pairs(path, "jsonl", name="custom").name == "custom"


def test_jsonl_optional_columns_absent_are_none(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", jsonl({"sentence1": "a", "sentence2": "b", "label": 1}))
    ds = read_pairs(path, "jsonl")
    assert ds.scores is None and ds.splits is None and ds.slices is None
    assert ds.labels is not None and ds.labels.tolist() == [1]


def test_stsb_extra_columns_and_literal_quotes(tmp_path: Path) -> None:
    path = write(tmp_path / "sts-dev.csv", STSB_TEXT)
    ds = read_pairs(path, "stsb")
    assert ds.name == "sts-dev"
    assert ds.sentence1 == STSB_S1 and ds.sentence2 == STSB_S2
    assert ds.scores is not None and ds.scores.tolist() == list(STSB_SCORES)
    assert ds.labels is None and ds.splits is None and ds.slices is None


@pytest.mark.parametrize(
    ("crlf", "bom"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_mrpc_handles_crlf_and_bom(tmp_path: Path, crlf: bool, bom: bool) -> None:
    path = write(tmp_path / "msr.tsv", MRPC_TEXT, crlf=crlf, bom=bom)
    ds = read_pairs(path, "mrpc")
    assert ds.sentence1 == ('Amrozi called him "the witness".', "Yucaipa sold the chain in 1998.")
    assert ds.sentence2 == ('He was called "the witness" by Amrozi.', "Yucaipa bought it in 1995.")
    assert ds.labels is not None and ds.labels.tolist() == [1, 0]
    assert ds.scores is None
    assert not any("\r" in s for s in ds.sentence1 + ds.sentence2)


def test_csv_quoting_embedded_newline_and_all_columns(tmp_path: Path) -> None:
    text = (
        "sentence1,sentence2,score,label,split,slice\n"
        '"Hello, world","She said ""hi""",3.5,1,dev,short\n'
        '"two\nlines",plain,0,0,test,long\n'
        "last,row,1e0,1,test,long\n"
    )
    path = write(tmp_path / "pairs.csv", text)
    ds = read_pairs(path, "csv")
    assert ds.sentence1 == ("Hello, world", "two\nlines", "last")
    assert ds.sentence2 == ('She said "hi"', "plain", "row")
    assert ds.scores is not None and ds.scores.tolist() == [3.5, 0.0, 1.0]
    assert ds.labels is not None and ds.labels.tolist() == [1, 0, 1]
    assert ds.splits == ("dev", "test", "test") and ds.slices == ("short", "long", "long")


def test_csv_column_order_is_free(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "label,sentence2,sentence1\n1,b,a\n", crlf=True, bom=True)
    ds = read_pairs(path, "csv")
    assert (ds.sentence1, ds.sentence2) == (("a",), ("b",))
    assert ds.labels is not None and ds.labels.tolist() == [1]


def test_binary_cutoff_labels_graded_data(tmp_path: Path) -> None:
    path = write(tmp_path / "sts.csv", STSB_TEXT)
    ds = read_pairs(path, "stsb", binary_cutoff=1.2)
    assert ds.labels is not None and ds.labels.dtype == np.int64
    assert ds.labels.tolist() == [1, 1, 0]  # 1.2 >= 1.2 counts as positive
    assert ds.scores is not None and ds.scores.tolist() == list(STSB_SCORES)
    assert ds.fingerprint != read_pairs(path, "stsb").fingerprint


def test_binary_cutoff_keeps_file_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.jsonl", jsonl({"sentence1": "a", "sentence2": "b", "score": 5, "label": 0})
    )
    ds = read_pairs(path, "jsonl", binary_cutoff=1.0)
    assert ds.labels is not None and ds.labels.tolist() == [0]


def test_binary_cutoff_ignored_for_label_only_data(tmp_path: Path) -> None:
    path = write(tmp_path / "m.tsv", MRPC_TEXT)
    assert read_pairs(path, "mrpc", binary_cutoff=3.0) == read_pairs(path, "mrpc")


def test_path_may_be_str(tmp_path: Path) -> None:
    path = write(tmp_path / "m.tsv", MRPC_TEXT)
    assert read_pairs(str(path), "mrpc").path == path


# --------------------------------------------------------------------------- errors

# (format, file text, expected 1-based line, fragments of the problem)
ROW_ERRORS = [
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "score": 1}, {"sentence1": "c", "score": 2}),
        2,
        ("missing column 'sentence2'",),
        id="jsonl-missing-sentence2",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "score": "high"}),
        1,
        ("score must be a number", "'high'"),
        id="jsonl-score-string",
    ),
    pytest.param(
        "jsonl",
        '{"sentence1": "a", "sentence2": "b", "score": NaN}\n',
        1,
        ("NaN or infinite",),
        id="jsonl-score-nan",
    ),
    pytest.param(
        "jsonl",
        '{"sentence1": "a", "sentence2": "b", "score": -Infinity}\n',
        1,
        ("NaN or infinite",),
        id="jsonl-score-inf",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "label": 2}),
        1,
        ("label must be 0 or 1", "2"),
        id="jsonl-label-2",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "label": True}),
        1,
        ("label must be 0 or 1", "true"),
        id="jsonl-label-bool",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "label": 1.0}),
        1,
        ("label must be 0 or 1",),
        id="jsonl-label-float",
    ),
    pytest.param(
        "jsonl",
        jsonl(
            {"sentence1": "a", "sentence2": "b", "label": 1},
            {"sentence1": "", "sentence2": "d", "label": 0},
        ),
        2,
        ("empty sentence", "sentence1"),
        id="jsonl-empty-sentence",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": " \t", "label": 1}),
        1,
        ("empty sentence", "sentence2"),
        id="jsonl-blank-sentence",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": 3, "label": 1}),
        1,
        ("sentence2 must be a string",),
        id="jsonl-sentence-not-string",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "label": 1}) + '{"sentence1": "c",\n',
        2,
        ("invalid JSON",),
        id="jsonl-bad-json",
    ),
    pytest.param(
        "jsonl",
        '["a", "b", 1]\n',
        1,
        ("expected a JSON object",),
        id="jsonl-not-object",
    ),
    pytest.param(
        "jsonl",
        jsonl(
            {"sentence1": "a", "sentence2": "b", "score": 1},
            {"sentence1": "c", "sentence2": "d", "score": 2},
            {"sentence1": "e", "sentence2": "f"},
        ),
        3,
        ("missing column 'score'", "line 1"),
        id="jsonl-optional-column-dropped",
    ),
    pytest.param(
        "jsonl",
        jsonl(
            {"sentence1": "a", "sentence2": "b", "score": 1},
            {"sentence1": "c", "sentence2": "d", "score": 2, "split": "dev"},
        ),
        1,
        ("missing column 'split'", "line 2"),
        id="jsonl-optional-column-added",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "score": 1, "split": ""}),
        1,
        ("split must be a non-empty string",),
        id="jsonl-empty-split",
    ),
    pytest.param(
        "jsonl",
        jsonl({"sentence1": "a", "sentence2": "b", "score": 1, "slice": 4}),
        1,
        ("slice must be a non-empty string",),
        id="jsonl-slice-not-string",
    ),
    pytest.param(
        "stsb",
        STSB_TEXT + "g\tf\t2012\t9\t1.0\tonly one sentence\n",
        4,
        ("wrong number of columns", "6"),
        id="stsb-too-few-columns",
    ),
    pytest.param(
        "stsb",
        "g\tf\t2012\t1\tabc\ts1\ts2\n",
        1,
        ("'abc'", "not a number"),
        id="stsb-score-text",
    ),
    pytest.param(
        "stsb",
        "g\tf\t2012\t1\t\ts1\ts2\n",
        1,
        ("not a number",),
        id="stsb-score-empty",
    ),
    pytest.param(
        "stsb",
        STSB_TEXT + "g\tf\t2012\t1\tnan\ts1\ts2\n",
        4,
        ("NaN or infinite",),
        id="stsb-nan",
    ),
    pytest.param(
        "stsb",
        "g\tf\t2012\t1\tinf\ts1\ts2\n",
        1,
        ("NaN or infinite",),
        id="stsb-inf",
    ),
    pytest.param(
        "stsb",
        "g\tf\t2012\t1\t2.0\ts1\t\n",
        1,
        ("empty sentence",),
        id="stsb-empty-sentence",
    ),
    pytest.param(
        "mrpc",
        MRPC_TEXT + "2\t1\t2\ta\tb\n",
        4,
        ("label '2'", "not 0 or 1"),
        id="mrpc-label-2",
    ),
    pytest.param(
        "mrpc",
        MRPC_TEXT + "yes\t1\t2\ta\tb\n",
        4,
        ("not 0 or 1",),
        id="mrpc-label-word",
    ),
    pytest.param(
        "mrpc",
        MRPC_TEXT + "1\t1\t2\ta\n",
        4,
        ("wrong number of columns", "4"),
        id="mrpc-columns",
    ),
    pytest.param(
        "mrpc",
        "Quality\t#1 ID\t#2 ID\t#1 String\n1\t1\t2\ta\n",
        1,
        ("missing column '#2 String'",),
        id="mrpc-header",
    ),
    pytest.param(
        "mrpc",
        MRPC_TEXT + "1\t1\t2\t \tb\n",
        4,
        ("empty sentence", "#1 String"),
        id="mrpc-empty-sentence",
    ),
    pytest.param(
        "csv",
        "sentence1,score\na,1\n",
        1,
        ("missing column 'sentence2'",),
        id="csv-header",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,score,score\na,b,1,2\n",
        1,
        ("appears 2 times",),
        id="csv-duplicate-header",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,score\na,b,1\nc,d\n",
        3,
        ("wrong number of columns",),
        id="csv-columns",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,score\na,b,1\n\nc,d,high\n",
        4,
        ("'high'", "not a number"),
        id="csv-score-text-after-blank-line",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,score\na,b,1_0\n",
        2,
        ("not a number",),
        id="csv-score-underscore",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,score\na,b,Infinity\n",
        2,
        ("NaN or infinite",),
        id="csv-inf",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,label\na,b,1\nc,d,-1\n",
        3,
        ("label '-1'",),
        id="csv-label",
    ),
    pytest.param(
        "csv",
        'sentence1,sentence2,label\n"multi\nline",b,1\nc,"",0\n',
        4,
        ("empty sentence",),
        id="csv-empty-sentence-after-multiline-field",
    ),
    pytest.param(
        "csv",
        "sentence1,sentence2,label,split\na,b,1,\n",
        2,
        ("split must be a non-empty",),
        id="csv-empty-split",
    ),
    pytest.param(
        "csv",
        'sentence1,sentence2,label\na,"b"x,1\n',
        2,
        ("malformed CSV",),
        id="csv-bad-quote",
    ),
]


@pytest.mark.parametrize(("fmt", "text", "line", "fragments"), ROW_ERRORS)
def test_bad_rows_name_file_line_and_problem(
    tmp_path: Path, fmt: str, text: str, line: int, fragments: tuple[str, ...]
) -> None:
    path = write(tmp_path / f"bad.{fmt}", text)
    with raises_data_error(path, line, *fragments):
        read_pairs(path, fmt)


@pytest.mark.parametrize("bom", [False, True])
def test_line_numbers_are_physical_with_crlf_and_bom(tmp_path: Path, bom: bool) -> None:
    path = write(
        tmp_path / "m.tsv", MRPC_TEXT + "\n1\t1\t2\ta\tb\n7\t1\t2\ta\tb\n", crlf=True, bom=bom
    )
    with raises_data_error(path, 6, "label '7'"):
        read_pairs(path, "mrpc")


TEXT_FORMATS = [fmt for fmt in FORMATS if fmt != "parquet"]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_non_utf8_bytes_name_the_line(tmp_path: Path, fmt: str) -> None:
    good = {
        "jsonl": jsonl({"sentence1": "a", "sentence2": "b", "score": 1}) * 2,
        "json": '[{"sentence1": "a", "sentence2": "b", "score": 1},\n',
        "stsb": STSB_TEXT,
        "mrpc": MRPC_TEXT,
        "csv": "sentence1,sentence2,score\na,b,1\nc,d,2\n",
        "tsv": "sentence1\tsentence2\tscore\na\tb\t1\nc\td\t2\n",
    }[fmt]
    path = tmp_path / f"latin1.{fmt}"
    path.write_bytes(good.encode() + "café\tcafé\n".encode("latin-1"))
    line = good.count("\n") + 1
    with raises_data_error(path, line, "not valid UTF-8", "0xe9", "re-save the file as UTF-8"):
        read_pairs(path, fmt)


@pytest.mark.parametrize(
    ("fmt", "text", "fragment"),
    [
        pytest.param("jsonl", "", "no sentence pairs", id="jsonl-empty"),
        pytest.param("jsonl", "\n  \n\n", "no sentence pairs", id="jsonl-blank-lines"),
        pytest.param("stsb", "", "no sentence pairs", id="stsb-empty"),
        pytest.param("mrpc", "", "empty", id="mrpc-empty"),
        pytest.param(
            "mrpc",
            "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n",
            "no sentence pairs",
            id="mrpc-header-only",
        ),
        pytest.param("csv", "", "empty", id="csv-empty"),
        pytest.param(
            "csv", "sentence1,sentence2,score\n", "no sentence pairs", id="csv-header-only"
        ),
        pytest.param("tsv", "", "empty", id="tsv-empty"),
        pytest.param(
            "tsv", "sentence1\tsentence2\tscore\n", "no sentence pairs", id="tsv-header-only"
        ),
        pytest.param("json", "[]", "no sentence pairs", id="json-empty-array"),
    ],
)
def test_empty_files_are_refused(tmp_path: Path, fmt: str, text: str, fragment: str) -> None:
    path = write(tmp_path / f"empty.{fmt}", text, bom=fmt == "mrpc")
    with raises_data_error(path, None, fragment):
        read_pairs(path, fmt)


def test_unknown_format_lists_formats(tmp_path: Path) -> None:
    path = write(tmp_path / "p.xlsx", MRPC_TEXT)
    with raises_data_error(path, None, "unknown data format 'xlsx'", *FORMATS):
        read_pairs(path, "xlsx")


@pytest.mark.parametrize(
    ("where", "fragments"),
    [
        pytest.param("nope.jsonl", ("file not found", "check the path"), id="missing-file"),
        pytest.param("", ("directory",), id="directory"),
    ],
)
def test_missing_file_and_directory(tmp_path: Path, where: str, fragments: tuple[str, ...]) -> None:
    path = tmp_path / where
    with raises_data_error(path, None, *fragments):
        read_pairs(path, "jsonl")


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        pytest.param(
            "jsonl", jsonl({"sentence1": "a", "sentence2": "b", "split": "dev"}), id="jsonl"
        ),
        pytest.param("csv", "sentence1,sentence2,slice\na,b,x\n", id="csv"),
    ],
)
def test_no_score_and_no_label_is_refused(tmp_path: Path, fmt: str, text: str) -> None:
    path = write(tmp_path / f"p.{fmt}", text)
    with raises_data_error(path, None, "neither a 'score' nor a 'label'", "nothing to evaluate"):
        read_pairs(path, fmt, binary_cutoff=3.0)


@pytest.mark.parametrize("cutoff", [float("nan"), float("inf"), "3"])
def test_bad_binary_cutoff_is_refused(tmp_path: Path, cutoff: object) -> None:
    path = write(tmp_path / "s.csv", STSB_TEXT)
    with raises_data_error(path, None, "binary_cutoff must be a finite number"):
        read_pairs(path, "stsb", binary_cutoff=cutoff)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fingerprints


def _stsb_as_other_formats(tmp_path: Path) -> list[Path]:
    rows = list(zip(STSB_S1, STSB_S2, STSB_SCORES, strict=True))
    j = write(
        tmp_path / "s.jsonl",
        jsonl(*({"sentence1": a, "sentence2": b, "score": s} for a, b, s in rows)),
        crlf=True,
        bom=True,
    )
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["score", "sentence2", "sentence1"])
    writer.writerows((f"{s:.3f}", b, a) for a, b, s in rows)
    c = write(tmp_path / "s.csv", buf.getvalue())
    return [j, c]


def test_fingerprint_is_format_and_encoding_independent(tmp_path: Path) -> None:
    base = read_pairs(write(tmp_path / "sts.tsv", STSB_TEXT), "stsb")
    variants = [
        read_pairs(write(tmp_path / "crlf.tsv", STSB_TEXT, crlf=True), "stsb"),
        read_pairs(write(tmp_path / "bom.tsv", STSB_TEXT, crlf=True, bom=True), "stsb"),
        *(read_pairs(p, p.suffix[1:]) for p in _stsb_as_other_formats(tmp_path)),
    ]
    assert {v.fingerprint for v in variants} == {base.fingerprint}
    assert read_pairs(tmp_path / "sts.tsv", "stsb", name="other").fingerprint == base.fingerprint


def test_fingerprint_mrpc_matches_csv_with_labels(tmp_path: Path) -> None:
    mrpc = read_pairs(write(tmp_path / "m.tsv", MRPC_TEXT, crlf=True, bom=True), "mrpc")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["sentence1", "sentence2", "label"])
    writer.writerows(zip(mrpc.sentence1, mrpc.sentence2, mrpc.labels.tolist(), strict=True))
    assert (
        read_pairs(write(tmp_path / "m.csv", buf.getvalue()), "csv").fingerprint == mrpc.fingerprint
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("A man is playing a flute.", "A man is playing a flute!", id="one-character"),
        pytest.param("\t5.000\t", "\t5.001\t", id="a-score"),
        pytest.param(
            "main-forums\tdeft-forum\t2014\t0003\t0.000\tCats sleep.\tStocks fell.\n",
            "",
            id="a-row",
        ),
    ],
)
def test_fingerprint_changes_with_content(tmp_path: Path, old: str, new: str) -> None:
    base = read_pairs(write(tmp_path / "a.tsv", STSB_TEXT), "stsb").fingerprint
    assert old in STSB_TEXT
    changed = read_pairs(write(tmp_path / "b.tsv", STSB_TEXT.replace(old, new)), "stsb")
    assert changed.fingerprint != base


def test_fingerprint_covers_labels_splits_slices_and_order(tmp_path: Path) -> None:
    row = {"sentence1": "a", "sentence2": "b", "score": 1.0}
    prints = {
        read_pairs(write(tmp_path / f"{i}.jsonl", jsonl(*rows)), "jsonl").fingerprint
        for i, rows in enumerate(
            [
                [row],
                [{**row, "label": 1}],
                [{**row, "split": "dev"}],
                [{**row, "slice": "dev"}],
                [{**row, "sentence1": "b", "sentence2": "a"}],
                [row, {**row, "sentence1": "c"}],
                [{**row, "sentence1": "c"}, row],
            ]
        )
    }
    assert len(prints) == 7


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def tagged(tmp_path: Path) -> PairDataset:
    rows = [
        ("a", "b", 1.0, "train", "x"),
        ("c", "d", 2.0, "test", "y"),
        ("a", "b", 3.0, "test", "x"),  # duplicate of row 0
        ("b", "a", 4.0, "train", "y"),  # swapped order: not a duplicate
        ("a", "b", 5.0, "test", "y"),  # duplicate again
    ]
    text = jsonl(
        *(
            {"sentence1": a, "sentence2": b, "score": s, "split": sp, "slice": sl}
            for a, b, s, sp, sl in rows
        )
    )
    return read_pairs(write(tmp_path / "tagged.jsonl", text), "jsonl", binary_cutoff=3.0)


def test_select_mask_and_indices(tagged: PairDataset) -> None:
    by_mask = tagged.select([True, False, True, False, False])
    by_index = tagged.select(np.array([0, 2]))
    assert by_mask == by_index
    assert by_mask.name == tagged.name and by_mask.path == tagged.path
    assert by_mask.sentence1 == ("a", "a") and by_mask.splits == ("train", "test")
    assert by_mask.scores is not None and by_mask.scores.tolist() == [1.0, 3.0]
    assert by_mask.labels is not None and by_mask.labels.tolist() == [0, 1]
    assert by_mask.fingerprint != tagged.fingerprint
    rebuilt = PairDataset.build(
        "other",
        "elsewhere",
        ("a", "a"),
        ("b", "b"),
        scores=[1.0, 3.0],
        labels=[0, 1],
        splits=("train", "test"),
        slices=("x", "x"),
    )
    assert rebuilt.fingerprint == by_mask.fingerprint
    assert tagged.select(range(len(tagged))).fingerprint == tagged.fingerprint
    reordered = tagged.select([4, 0])
    assert reordered.scores is not None and reordered.scores.tolist() == [5.0, 1.0]
    assert len(tagged.select([])) == 0


def test_select_rejects_bad_selections(tagged: PairDataset) -> None:
    with pytest.raises(ValueError, match="mask has 2 entries"):
        tagged.select([True, False])
    with pytest.raises(IndexError):
        tagged.select([5])
    with pytest.raises(TypeError):
        tagged.select([0.5])


def test_split(tagged: PairDataset) -> None:
    test = tagged.split("test")
    assert test.sentence1 == ("c", "a", "a") and set(test.splits or ()) == {"test"}
    assert len(tagged.split("train")) == 2
    with raises_data_error(tagged.path, None, "split 'dev'", "'train'", "'test'"):
        tagged.split("dev")


def test_split_without_split_column(tmp_path: Path) -> None:
    ds = read_pairs(write(tmp_path / "m.tsv", MRPC_TEXT), "mrpc")
    with raises_data_error(ds.path, None, "no split column"):
        ds.split("test")


def test_unique_texts_and_duplicate_pairs(tagged: PairDataset) -> None:
    assert tagged.unique_texts() == ["a", "b", "c", "d"]
    assert tagged.duplicate_pairs == 2
    assert tagged.select([0, 1, 3]).duplicate_pairs == 0


def test_dataset_is_immutable(tagged: PairDataset) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        tagged.name = "x"  # type: ignore[misc]
    assert tagged.scores is not None and tagged.labels is not None
    with pytest.raises(ValueError):
        tagged.scores[0] = 9.0
    with pytest.raises(ValueError):
        tagged.labels[0] = 1
    assert hash(tagged) == hash(tagged.select(range(len(tagged))))


# --------------------------------------------------------------------------- property


sentence = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(sentence, sentence, st.integers(0, 1)), min_size=1, max_size=8),
    ascii_only=st.booleans(),
)
def test_jsonl_and_csv_round_trip_arbitrary_unicode(
    tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, str, int]], ascii_only: bool
) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    lines = [
        json.dumps({"sentence1": a, "sentence2": b, "label": y}, ensure_ascii=ascii_only)
        for a, b, y in pairs
    ]
    ds = read_pairs(write(folder / "p.jsonl", "\n".join(lines) + "\n"), "jsonl")
    assert list(ds.sentence1) == [p[0] for p in pairs]
    assert list(ds.sentence2) == [p[1] for p in pairs]
    assert ds.labels is not None and ds.labels.tolist() == [p[2] for p in pairs]

    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["sentence1", "sentence2", "label"])
    writer.writerows(pairs)
    as_csv = read_pairs(write(folder / "p.csv", buf.getvalue()), "csv")
    assert as_csv.fingerprint == ds.fingerprint


# --------------------------------------------------------------------------- real data


needs_datasets = pytest.mark.skipif(
    not DATASETS.is_dir(),
    reason=f"public STS-B/MRPC files not found at {DATASETS} (set GATE_DATASETS to their folder)",
)


@needs_datasets
@pytest.mark.parametrize(
    ("fmt", "relpath", "rows"),
    [
        ("stsb", "stsb/sts-train.csv", 5749),
        ("stsb", "stsb/sts-dev.csv", 1500),
        ("stsb", "stsb/sts-test.csv", 1379),
        ("mrpc", "mrpc/msr-para-train.tsv", 3576),
        ("mrpc", "mrpc/msr-para-val.tsv", 500),
        ("mrpc", "mrpc/msr-para-test.tsv", 1725),
    ],
)
def test_real_datasets_row_counts(fmt: str, relpath: str, rows: int) -> None:
    ds = read_pairs(DATASETS / relpath, fmt)
    assert len(ds) == rows
    if fmt == "stsb":
        assert ds.scores is not None and ds.labels is None
        assert 0.0 <= ds.scores.min() and ds.scores.max() <= 5.0
    else:
        assert ds.labels is not None and ds.scores is None
    texts = ds.sentence1 + ds.sentence2
    assert not any("\r" in t or "\t" in t or "\ufeff" in t for t in texts)


@needs_datasets
def test_real_mrpc_test_label_balance() -> None:
    ds = read_pairs(DATASETS / "mrpc" / "msr-para-test.tsv", "mrpc")
    assert ds.labels is not None
    assert int((ds.labels == 1).sum()) == 1147
    assert int((ds.labels == 0).sum()) == 578
