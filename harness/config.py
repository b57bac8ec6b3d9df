"""GateConfig: read gate.toml, validate every key, apply command-line overrides."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis_config import AnalysisSpecs, pair_format, read_analysis_tables
from harness.checkpoint.training_record import (
    TrainingRecordSpec,
    file_inside_folder,
    parse_expectation,
)
from harness.errors import ConfigError
from harness.quality.metrics import METRICS, ThresholdPolicy
from harness.quality.pairs import COLUMN_KEYS, MAPPED_FORMATS
from harness.quality.retrieval import DEFAULT_METRICS as DEFAULT_RETRIEVAL_METRICS
from harness.quality.retrieval import is_retrieval_metric
from harness.toml_table import Table, config_path

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
DATASET_ROLES = ("gate", "reference")
#: pairs: sentence pairs with scores or labels; retrieval: queries ranked against a corpus
DATASET_KINDS = ("pairs", "retrieval")
#: the format of a retrieval set read from files (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)
BEIR_FORMAT = "beir"


@dataclass(frozen=True)
class BaselineSpec:
    """A baseline model: a display name, a hub id or local path, and the revision of a hub id
    to take from the Hugging Face cache (a full commit hash, a branch or a tag; None: main)."""

    name: str
    model: str
    revision: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One data set and its role: `gate` (targets apply) or `reference` (shown only).

    A retrieval set (`kind = "retrieval"`) is either derived from a pair set's test part
    (`derived_from`, whose embeddings it reuses) or read from a BEIR-layout folder (`path`);
    `retrieval_metrics` are computed on it, and a query never retrieves itself while
    `exclude_self` holds."""

    name: str
    role: str
    path: Path
    format: str
    calibration_path: Path | None = None
    calibration_split: str | None = None
    test_split: str | None = None
    binary_cutoff: float | None = None
    targets: dict[str, float] = field(default_factory=dict)
    #: the file's name for a pair column, by key (sentence1, score, ...); unmapped keys as is
    columns: dict[str, str] = field(default_factory=dict)
    kind: str = "pairs"
    derived_from: str | None = None
    exclude_self: bool = True
    retrieval_metrics: tuple[str, ...] = ()
    #: a BEIR folder's qrels file: qrels/<qrels_split>.tsv
    qrels_split: str = "test"

    @property
    def gates(self) -> bool:
        return self.role == "gate"

    @property
    def is_retrieval(self) -> bool:
        return self.kind == "retrieval"


@dataclass(frozen=True)
class EffectSpec:
    """How much an adapter must change the probe sentences' embeddings."""

    probe_path: Path
    min_mean_cosine_distance: float = 1e-4
    min_max_cosine_distance: float = 1e-3
    #: the share of adapted modules whose weight update must be non-zero (1.0: every one)
    min_changed_fraction: float = 1.0


@dataclass(frozen=True)
class ComparisonSpec:
    """How a candidate must beat the first baseline: metrics, margin and bootstrap."""

    metrics: tuple[str, ...]
    min_delta: float
    n_resamples: int
    confidence: float
    seed: int
    #: what a retrieval set's beats_baseline compares
    retrieval_metrics: tuple[str, ...] = ("mrr@10", "ndcg@10")


@dataclass(frozen=True)
class ThroughputSpec:
    """Encode-throughput benchmarks: batch sizes, the merged/base gate, the probe corpus.

    The corpus is `corpus_path` (default: [effect] probe_path) cycled to `corpus_size`
    sentences; each of `rounds` timed rounds encodes it once. `required`: the throughput
    checks belong to the battery a checkpoint needs for PROMOTE (false: they count when run).
    """

    batch_sizes: tuple[int, ...] = (16, 64)
    min_merged_ratio: float = 0.95
    corpus_path: Path | None = None
    corpus_size: int = 512
    rounds: int = 5
    required: bool = True


@dataclass(frozen=True)
class GateConfig:
    """Everything a gate run needs to know, validated."""

    source: Path
    checkpoints_dir: Path
    device: str
    batch_size: int
    report_dir: Path
    cache_dir: Path
    baselines: tuple[BaselineSpec, ...]
    aliases: dict[str, Path]
    effect: EffectSpec
    comparison: ComparisonSpec
    threshold: ThresholdPolicy
    datasets: tuple[DatasetSpec, ...]
    throughput: ThroughputSpec = field(default_factory=ThroughputSpec)
    #: [training_record]; None: no such table, so no training-record check
    training_record: TrainingRecordSpec | None = None
    #: [slices], [overlap], [fp_rate], [leakage], [matryoshka]
    analyses: AnalysisSpecs = field(default_factory=AnalysisSpecs)

    def replace(self, **changes: Any) -> GateConfig:
        """A copy with some fields changed (command-line overrides)."""
        return dataclasses.replace(self, **changes)


def _targets(source: Path, table: Table, retrieval: bool = False) -> dict[str, float]:
    """Targets by metric; a retrieval set's name retrieval metrics (recall@5, mrr@10, ...)."""
    targets = {}
    for metric in list(table.data):
        if retrieval:
            targets[metric] = _retrieval_target(source, table, metric)
            continue
        if metric not in METRICS:
            close = difflib.get_close_matches(metric, list(METRICS), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                source,
                f"unknown metric '{metric}' in [{table.name}]",
                f"{hint}known metrics: {', '.join(METRICS)}",
            )
        low = -1.0 if metric in ("spearman", "pearson", "mcc") else 0.0
        targets[metric] = table.number(metric, low=low, high=1.0)
    return targets


def _retrieval_target(source: Path, table: Table, metric: str) -> float:
    if not is_retrieval_metric(metric):
        raise ConfigError(
            source,
            f"'{metric}' in [{table.name}] is not a retrieval metric",
            "a retrieval set's targets name retrieval metrics: recall@K, precision@K, "
            'accuracy@K, mrr@K, ndcg@K or map@K, quoted in TOML ("recall@5" = 0.9)',
        )
    return float(table.number(metric, low=0.0, high=1.0))


def _dataset(source: Path, name: str, data: Any, default_targets: dict[str, float]) -> DatasetSpec:
    table = Table(source, f"datasets.{name}", data)
    role = table.get("role", str)
    if role not in DATASET_ROLES:
        raise ConfigError(
            source,
            f"[datasets.{name}] role = '{role}' is not one of {DATASET_ROLES}",
            'use role = "gate" (targets apply) or role = "reference" (shown, never fails)',
        )
    kind = table.get("kind", str, "pairs")
    if kind not in DATASET_KINDS:
        raise ConfigError(
            source,
            f"[datasets.{name}] kind = '{kind}' is not one of {DATASET_KINDS}",
            'use kind = "pairs" (sentence pairs, the default) or kind = "retrieval"',
        )
    if kind == "retrieval":
        return _retrieval_dataset(source, name, role, table)
    config_dir = source.parent
    fmt = pair_format(source, table, "pick the format that matches the file")
    calibration = table.get("calibration_path", str, None)
    targets = dict(default_targets)
    if "targets" in table.data:
        targets.update(
            _targets(source, Table(source, f"datasets.{name}.targets", table.get("targets", dict)))
        )
    if role == "gate":
        if "fp_rate" not in targets or len(targets) < 2:
            raise ConfigError(
                source,
                f"gating data set '{name}' needs an fp_rate target and one other target",
                "set them under [targets] (for every gating set) or [datasets.NAME.targets]",
            )
    spec = DatasetSpec(
        name=name,
        role=role,
        path=config_path(config_dir, table.get("path", str)),
        format=fmt,
        calibration_path=config_path(config_dir, calibration) if calibration else None,
        calibration_split=table.get("calibration_split", str, None),
        test_split=table.get("test_split", str, None),
        binary_cutoff=table.number("binary_cutoff", None),
        targets=targets if role == "gate" else {},
        columns=_columns(source, name, fmt, table.get("columns", dict, {})),
    )
    table.finish()
    _check_calibration_part(source, spec)
    return spec


def _retrieval_dataset(source: Path, name: str, role: str, table: Table) -> DatasetSpec:
    """[datasets.NAME] with kind = "retrieval": derived from a pair set (derived_from) or read
    from a BEIR-layout folder (path)."""
    where = f"[datasets.{name}]"
    derived_from = table.get("derived_from", str, None)
    path = table.get("path", str, None)
    if (derived_from is None) == (path is None):
        raise ConfigError(
            source,
            f"{where} kind = \"retrieval\" needs exactly one of derived_from (a pair set's name: "
            "its test part becomes queries and corpus) and path (a folder with corpus.jsonl, "
            "queries.jsonl and qrels/<qrels_split>.tsv)",
            'set derived_from = "NAME" or path = "FOLDER"',
        )
    metrics = table.get("metrics", list, list(DEFAULT_RETRIEVAL_METRICS))
    bad = [m for m in metrics if not isinstance(m, str) or not is_retrieval_metric(m)]
    if not metrics or bad:
        raise ConfigError(
            source,
            f"{where} metrics = {metrics!r}: "
            + (f"{bad[0]!r} is not a retrieval metric" if bad else "names no metric"),
            "list retrieval metrics: recall@K, precision@K, accuracy@K, mrr@K, ndcg@K, map@K",
        )
    targets = _targets(
        source, Table(source, f"datasets.{name}.targets", table.get("targets", dict, {})), True
    )
    if role == "gate" and not targets:
        raise ConfigError(
            source,
            f"gating retrieval set '{name}' has no target",
            f'set one under [datasets.{name}.targets], e.g. "recall@5" = 0.9',
        )
    missing = [m for m in targets if m not in metrics]
    if missing:
        raise ConfigError(
            source,
            f"{where} has a target on {missing[0]}, which its metrics do not compute",
            f"add {missing[0]!r} to metrics, or remove the target",
        )
    qrels_split = table.get("qrels_split", str, "test")
    if derived_from is not None and "qrels_split" in table.data:
        raise ConfigError(
            source,
            f"{where} sets qrels_split, which only a BEIR folder (path) has: a derived set's "
            "queries come from its pair set's test part",
            "remove qrels_split, or read the set from BEIR files with path",
        )
    spec = DatasetSpec(
        name=name,
        role=role,
        path=config_path(source.parent, path) if path else source,  # derived: its pair set's
        format=BEIR_FORMAT if path else "derived",
        targets=targets if role == "gate" else {},
        kind="retrieval",
        derived_from=derived_from,
        exclude_self=table.get("exclude_self", bool, derived_from is not None),
        retrieval_metrics=tuple(metrics),
        qrels_split=qrels_split,
    )
    table.finish()
    return spec


def _retrieval_sets(
    source: Path, datasets: tuple[DatasetSpec, ...], comparison: ComparisonSpec
) -> tuple[DatasetSpec, ...]:
    """The data sets, each derived retrieval set with its pair set's path: it names a pair set
    of this gate.toml, and every retrieval set computes what beats_baseline compares."""
    pair_sets = {d.name: d for d in datasets if not d.is_retrieval}
    checked = []
    for spec in datasets:
        if spec.is_retrieval:
            computed = spec.retrieval_metrics
            uncomputed = [m for m in comparison.retrieval_metrics if m not in computed]
            if uncomputed:
                raise ConfigError(
                    source,
                    f"[datasets.{spec.name}] metrics = {list(spec.retrieval_metrics)} leaves out "
                    f"{', '.join(uncomputed)}, which [comparison] retrieval_metrics compares: "
                    "beats_baseline could never pass",
                    f"add {', '.join(uncomputed)} to its metrics, or change [comparison] "
                    "retrieval_metrics",
                )
        if spec.derived_from is not None:
            if spec.derived_from not in pair_sets:
                raise ConfigError(
                    source,
                    f"[datasets.{spec.name}] derived_from = '{spec.derived_from}' is not a pair "
                    "data set of this gate.toml",
                    f"name one of: {', '.join(pair_sets) or '(none: add a pair data set)'}",
                )
            spec = dataclasses.replace(spec, path=pair_sets[spec.derived_from].path)
        checked.append(spec)
    return tuple(checked)


def _columns(source: Path, name: str, fmt: str, data: dict[str, Any]) -> dict[str, str]:
    """[datasets.NAME] columns: the file's column name for each pair column it renames."""
    table = f"[datasets.{name}] columns"
    if data and fmt not in MAPPED_FORMATS:
        raise ConfigError(
            source,
            f"{table} renames columns, but format '{fmt}' has a fixed layout",
            f"remove columns (the {fmt} reader knows its columns), or use a format with a "
            f"header: {', '.join(MAPPED_FORMATS)}",
        )
    for key, value in data.items():
        if key not in COLUMN_KEYS:
            close = difflib.get_close_matches(key, COLUMN_KEYS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                source,
                f"unknown key '{key}' in {table}",
                f"{hint}columns maps these keys to the file's column names: "
                f"{', '.join(COLUMN_KEYS)}",
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                source,
                f"{table} {key} = {value!r} must be a non-empty string",
                f'give the name of the file\'s column, e.g. {key} = "my_{key}"',
            )
    seen: dict[str, str] = {}
    for key, value in data.items():
        if value in seen:
            raise ConfigError(
                source,
                f"{table} maps both {seen[value]} and {key} to column '{value}'",
                "map each key to a different column",
            )
        seen[value] = key
    return dict(data)


def _check_calibration_part(source: Path, spec: DatasetSpec) -> None:
    """The calibration part is named one way and is not the test part: a threshold tuned on
    the pairs it is judged on, or a key silently ignored, would switch a check off."""
    table = f"[datasets.{spec.name}]"
    if spec.calibration_path is not None and spec.calibration_split is not None:
        raise ConfigError(
            source,
            f"{table} sets both calibration_path and calibration_split: the calibration part "
            "would be the calibration_path file, and calibration_split would be ignored",
            "remove calibration_split (the calibration_path file is the calibration part), or "
            "remove calibration_path to take the calibration part from path's split column",
        )
    if spec.calibration_split is not None and spec.calibration_split == spec.test_split:
        raise ConfigError(
            source,
            f"{table} calibration_split and test_split are both '{spec.test_split}': the "
            "threshold would be tuned on the test pairs it is judged on",
            "give calibration_split and test_split two different splits of the file",
        )
    if spec.calibration_path is not None and (
        spec.calibration_path.resolve() == spec.path.resolve()
    ):
        raise ConfigError(
            source,
            f"{table} calibration_path is path ({spec.path.resolve()}): the threshold would be "
            "tuned on the test pairs it is judged on",
            "point calibration_path to a file of other pairs, or take both parts from one file "
            "with calibration_split and test_split",
        )


def load_config(path: str | Path) -> GateConfig:
    """Read and validate gate.toml; every problem names the file, the key and the fix."""
    source = Path(path).resolve()
    if not source.is_file():
        raise ConfigError(
            source,
            "the gate configuration does not exist",
            "pass --gate-config PATH or create gate.toml",
        )
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            source, f"not valid TOML: {exc}", "fix the syntax at the position shown"
        ) from exc
    root = Table(source, "gate.toml", raw)
    config_dir = source.parent

    gate = Table(source, "gate", root.get("gate", dict, {}))
    device = gate.get("device", str, "auto")
    check_device(device, source)
    checkpoints_dir = config_path(config_dir, gate.get("checkpoints_dir", str, "models"))
    batch_size = int(gate.number("batch_size", 64, low=1, high=65536))
    report_dir = config_path(config_dir, gate.get("report_dir", str, "reports"))
    cache_dir = config_path(config_dir, gate.get("cache_dir", str, ".cache/embeddings"))
    gate.finish()

    baselines = []
    for index, item in enumerate(root.get("baselines", list)):
        table = Table(source, f"baselines[{index}]", item)
        revision = table.get("revision", str, None)
        if revision is not None and not revision.strip():
            raise ConfigError(
                source,
                f"[baselines[{index}]] revision is empty",
                "give a full commit hash, a branch or a tag, or remove revision (main)",
            )
        baselines.append(
            BaselineSpec(
                name=table.get("name", str), model=table.get("model", str), revision=revision
            )
        )
        table.finish()
    if not baselines:
        raise ConfigError(
            source, "no baseline is configured", "add a [[baselines]] table with name and model"
        )

    alias_table = Table(source, "aliases", root.get("aliases", dict, {}))
    aliases = {
        hub_id: config_path(config_dir, alias_table.get(hub_id, str))
        for hub_id in list(alias_table.data)
    }

    effect_table = Table(source, "effect", root.get("effect", dict, {}))
    probe_path = config_path(
        config_dir, effect_table.get("probe_path", str, "fixtures/probe_sentences.txt")
    )
    default = EffectSpec(probe_path)
    effect = EffectSpec(
        probe_path=probe_path,
        min_mean_cosine_distance=effect_table.number(
            "min_mean_cosine_distance", default.min_mean_cosine_distance, low=0, high=2
        ),
        min_max_cosine_distance=effect_table.number(
            "min_max_cosine_distance", default.min_max_cosine_distance, low=0, high=2
        ),
        min_changed_fraction=effect_table.number(
            "min_changed_fraction", default.min_changed_fraction, low=0, high=1
        ),
    )
    effect_table.finish()

    comp = Table(source, "comparison", root.get("comparison", dict, {}))
    metrics = tuple(comp.get("metrics", list, ["spearman", "roc_auc"]))
    if not metrics:
        raise ConfigError(
            source,
            "[comparison] metrics = [] names no metric: test_beats_baseline would compare "
            "nothing and pass every candidate",
            'name the metrics a candidate is compared on, e.g. metrics = ["spearman", "roc_auc"]',
        )
    for metric in metrics:
        if metric not in METRICS:
            raise ConfigError(
                source,
                f"[comparison] metrics names an unknown metric '{metric}'",
                f"known metrics: {', '.join(METRICS)}",
            )
    comparison = ComparisonSpec(
        metrics=metrics,
        min_delta=comp.number("min_delta", 0.0, low=-1.0, high=1.0),
        n_resamples=int(comp.number("n_resamples", 1000, low=1, high=1_000_000)),
        confidence=comp.number("confidence", 0.95, low=0.5, high=0.9999),
        seed=int(comp.number("seed", 0, low=0)),
        retrieval_metrics=tuple(
            comp.get("retrieval_metrics", list, list(ComparisonSpec.retrieval_metrics))
        ),
    )
    bad = [m for m in comparison.retrieval_metrics if not is_retrieval_metric(str(m))]
    if bad or not comparison.retrieval_metrics:
        raise ConfigError(
            source,
            f"[comparison] retrieval_metrics = {list(comparison.retrieval_metrics)!r}: "
            + (f"{bad[0]!r} is not a retrieval metric" if bad else "names no metric"),
            'name retrieval metrics, e.g. retrieval_metrics = ["mrr@10", "ndcg@10"]',
        )
    comp.finish()

    thr = Table(source, "threshold", root.get("threshold", dict, {}))
    try:
        threshold = ThresholdPolicy(
            kind=thr.get("policy", str, "best_f1"),
            value=thr.number("value", None, low=-1.0, high=1.0),
        )
    except ValueError as exc:
        raise ConfigError(
            source,
            f"[threshold] {exc}",
            "policy is fixed (with value), best_f1, or target_recall (with value)",
        ) from exc
    thr.finish()

    throughput = _throughput(source, Table(source, "throughput", root.get("throughput", dict, {})))
    record_table = root.get("training_record", dict, None)
    training_record = (
        _training_record(source, Table(source, "training_record", record_table))
        if record_table is not None
        else None
    )

    default_targets = _targets(source, Table(source, "targets", root.get("targets", dict, {})))
    dataset_tables = root.get("datasets", dict, {})
    datasets = tuple(
        _dataset(source, name, data, default_targets) for name, data in dataset_tables.items()
    )
    datasets = _retrieval_sets(source, datasets, comparison)
    analyses = read_analysis_tables(source, root)
    if not any(spec.gates for spec in datasets):
        raise ConfigError(
            source,
            'no data set has role = "gate"',
            'mark at least one [datasets.NAME] with role = "gate"',
        )
    root.finish()

    return GateConfig(
        source=source,
        checkpoints_dir=checkpoints_dir,
        device=device,
        batch_size=batch_size,
        report_dir=report_dir,
        cache_dir=cache_dir,
        baselines=tuple(baselines),
        aliases=aliases,
        effect=effect,
        comparison=comparison,
        threshold=threshold,
        datasets=datasets,
        throughput=throughput,
        training_record=training_record,
        analyses=analyses,
    )


def _throughput(source: Path, table: Table) -> ThroughputSpec:
    """[throughput]: batch sizes (positive, distinct), the merged/base ratio, the corpus, and
    whether PROMOTE needs the throughput checks."""
    default = ThroughputSpec()
    sizes = table.get("batch_sizes", list, list(default.batch_sizes))
    if not sizes or any(
        isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 65536 for b in sizes
    ) or len(set(sizes)) != len(sizes):
        raise ConfigError(
            source,
            f"[throughput] batch_sizes = {sizes!r} must be distinct whole numbers from 1 to 65536",
            "list them like batch_sizes = [16, 64]",
        )
    corpus = table.get("corpus_path", str, None)
    spec = ThroughputSpec(
        batch_sizes=tuple(sizes),
        min_merged_ratio=table.number(
            "min_merged_ratio", default.min_merged_ratio, low=0.0, high=10.0
        ),
        corpus_path=config_path(source.parent, corpus) if corpus else None,
        corpus_size=int(table.number("corpus_size", default.corpus_size, low=1, high=1_000_000)),
        rounds=int(table.number("rounds", default.rounds, low=1, high=1000)),
        required=table.get("required", bool, default.required),
    )
    table.finish()
    return spec


def _training_record(source: Path, table: Table) -> TrainingRecordSpec:
    """[training_record]: the record's file in each checkpoint folder, whether every checkpoint
    needs one, and the expectations on its fields (each parsed here, so a malformed one stops
    the run before any test)."""
    file = table.get("file", str)
    if not file_inside_folder(file):
        raise ConfigError(
            source,
            f"[training_record] file = {file!r} does not name a file inside the checkpoint folder",
            'give its path relative to the checkpoint folder, e.g. file = "training_metadata.json"',
        )
    expectations = []
    for index, text in enumerate(table.get("expect", list, [])):
        where = f"[training_record] expect[{index}]"
        if not isinstance(text, str):
            raise ConfigError(
                source,
                f"{where} = {text!r} must be a string",
                'write each expectation as a string, e.g. "learning_rate == 5e-6"',
            )
        expectations.append(parse_expectation(text, source, where))
    spec = TrainingRecordSpec(
        file=file, required=table.get("required", bool, False), expectations=tuple(expectations)
    )
    table.finish()
    return spec


def check_device(device: str, source: str | Path = "--device") -> str:
    """Accept auto, cpu, cuda or cuda:N; anything else is an error naming the choices."""
    if not DEVICE_PATTERN.match(device):
        raise ConfigError(
            source,
            f"device '{device}' is not auto, cpu, cuda or cuda:N",
            "use one of auto, cpu, cuda, cuda:0, ...",
        )
    return device
