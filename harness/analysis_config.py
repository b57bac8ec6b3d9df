"""gate.toml's tables for the questions after the pair metrics: slices, lexical overlap, the FP
rate's exact bound, leakage into training, and Matryoshka dimensions. Each is read and checked
here; every one is optional, and without its table an analysis is shown with its defaults (or,
for leakage and Matryoshka, not run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath

from harness.errors import ConfigError
from harness.quality.matryoshka import check_dimensions
from harness.quality.metrics import METRICS
from harness.quality.pairs import FORMATS as DATASET_FORMATS
from harness.quality.pairs import MAPPED_FORMATS
from harness.toml_table import Table, config_path

#: how test_fp_rate_under_target judges the FP rate: its point estimate, or the exact
#: (Clopper-Pearson) upper bound at [fp_rate] confidence
FP_RATE_JUDGED_ON = ("estimate", "upper_bound")


@dataclass(frozen=True)
class SliceSpec:
    """[slices]: the metrics compared per slice (None: [comparison] metrics) and the optional
    gate "no slice significantly worse than the baseline" (Holm-Bonferroni over slices and
    metrics at `alpha`; a paired permutation test with at least `n_permutations`)."""

    metrics: tuple[str, ...] | None = None
    gate: bool = False
    alpha: float = 0.05
    n_permutations: int = 10_000


@dataclass(frozen=True)
class OverlapSpec:
    """[overlap]: an optional target on the FP rate of the high-overlap negatives (gating sets)."""

    fp_rate_target: float | None = None


@dataclass(frozen=True)
class FpRateSpec:
    """[fp_rate]: what test_fp_rate_under_target holds to the target, and the bound's level."""

    judged_on: str = "estimate"
    confidence: float = 0.95


@dataclass(frozen=True)
class LeakageSpec:
    """[leakage]: where each checkpoint's training pairs are, how to read them, and the share of
    a gating set's test pairs found in them (after normalisation) that fails no_leakage.

    The file is `path` (one for every checkpoint) or the training record's `record_field`
    (a path relative to `relative_to`, default the checkpoint folder)."""

    format: str
    path: Path | None = None
    record: str = "train_settings.json"
    record_field: str | None = None
    relative_to: Path | None = None
    columns: dict[str, str] = field(default_factory=dict)
    binary_cutoff: float | None = None
    max_share: float = 0.0
    required: bool = False


@dataclass(frozen=True)
class MatryoshkaSpec:
    """[matryoshka]: the truncated dimensions every metric is also computed at, and optional
    targets per dimension (gating sets)."""

    dimensions: tuple[int, ...] = ()
    targets: dict[int, dict[str, float]] = field(default_factory=dict)
    source: Path = Path("gate.toml")  # where they were configured, for the error below

    def check_width(self, width: int) -> None:
        """Every dimension fits a model whose embeddings have `width` dimensions; ConfigError
        naming gate.toml otherwise."""
        try:
            check_dimensions(self.dimensions, width)
        except ValueError as exc:
            raise ConfigError(
                self.source,
                f"[matryoshka] dimensions = {list(self.dimensions)}: {exc}",
                f"list only dimensions up to {width}, the model's embedding width",
            ) from None


@dataclass(frozen=True)
class AnalysisSpecs:
    """Every analysis table of gate.toml."""

    slices: SliceSpec = field(default_factory=SliceSpec)
    overlap: OverlapSpec = field(default_factory=OverlapSpec)
    fp_rate: FpRateSpec = field(default_factory=FpRateSpec)
    leakage: LeakageSpec | None = None
    matryoshka: MatryoshkaSpec = field(default_factory=MatryoshkaSpec)


def read_analysis_tables(source: Path, root: Table) -> AnalysisSpecs:
    """The [slices], [overlap], [fp_rate], [leakage] and [matryoshka] tables of gate.toml."""
    leakage = root.get("leakage", dict, None)
    return AnalysisSpecs(
        slices=_slices(source, Table(source, "slices", root.get("slices", dict, {}))),
        overlap=_overlap(Table(source, "overlap", root.get("overlap", dict, {}))),
        fp_rate=_fp_rate(source, Table(source, "fp_rate", root.get("fp_rate", dict, {}))),
        leakage=None if leakage is None else _leakage(source, Table(source, "leakage", leakage)),
        matryoshka=_matryoshka(
            source, Table(source, "matryoshka", root.get("matryoshka", dict, {}))
        ),
    )


def _pair_metrics(source: Path, where: str, names: list[object]) -> tuple[str, ...]:
    for name in names:
        if not isinstance(name, str) or name not in METRICS:
            raise ConfigError(
                source,
                f"{where} names an unknown metric {name!r}",
                f"known metrics: {', '.join(METRICS)}",
            )
    return tuple(str(n) for n in names)


def _slices(source: Path, table: Table) -> SliceSpec:
    default = SliceSpec()
    metrics = table.get("metrics", list, None)
    if metrics is not None and not metrics:
        raise ConfigError(
            source,
            "[slices] metrics = [] names no metric: the slices would compare nothing",
            'name the metrics compared per slice, e.g. metrics = ["spearman", "roc_auc"], or '
            "remove metrics ([comparison] metrics)",
        )
    spec = SliceSpec(
        metrics=None if metrics is None else _pair_metrics(source, "[slices] metrics", metrics),
        gate=table.get("gate", bool, default.gate),
        alpha=table.number("alpha", default.alpha, low=1e-6, high=0.5),
        n_permutations=int(
            table.number("n_permutations", default.n_permutations, low=100, high=10_000_000)
        ),
    )
    table.finish()
    return spec


def _overlap(table: Table) -> OverlapSpec:
    spec = OverlapSpec(fp_rate_target=table.number("fp_rate_target", None, low=0.0, high=1.0))
    table.finish()
    return spec


def _fp_rate(source: Path, table: Table) -> FpRateSpec:
    judged_on = table.get("judged_on", str, "estimate")
    if judged_on not in FP_RATE_JUDGED_ON:
        raise ConfigError(
            source,
            f"[fp_rate] judged_on = {judged_on!r} is not one of {FP_RATE_JUDGED_ON}",
            'use "estimate" (the FP rate itself) or "upper_bound" (its exact upper bound must '
            "meet the target)",
        )
    spec = FpRateSpec(judged_on, table.number("confidence", 0.95, low=0.5, high=0.9999))
    table.finish()
    return spec


def pair_format(source: Path, table: Table, fix: str) -> str:
    """A table's `format`: one the pair readers know."""
    fmt = table.get("format", str)
    if fmt not in DATASET_FORMATS:
        raise ConfigError(
            source, f"[{table.name}] format = '{fmt}' is not one of {DATASET_FORMATS}", fix
        )
    return str(fmt)


def _leakage(source: Path, table: Table) -> LeakageSpec:
    fmt = pair_format(source, table, "give the format of the training pairs file")
    path = table.get("path", str, None)
    field_name = table.get("record_field", str, None)
    if (path is None) == (field_name is None):
        raise ConfigError(
            source,
            "[leakage] needs exactly one of path (one training pairs file for every checkpoint) "
            "and record_field (the training record's field that names each checkpoint's file)",
            'set path = "..." or record_field = "data.file"',
        )
    record = table.get("record", str, LeakageSpec.__dataclass_fields__["record"].default)
    if PurePath(record).is_absolute() or ".." in PurePath(record).parts:
        raise ConfigError(
            source,
            f"[leakage] record = {record!r} does not name a file inside the checkpoint folder",
            'give its path relative to the checkpoint folder, e.g. record = "train_settings.json"',
        )
    relative_to = table.get("relative_to", str, None)
    columns = table.get("columns", dict, {})
    if columns and fmt not in MAPPED_FORMATS:
        raise ConfigError(
            source,
            f"[leakage] columns renames columns, but format '{fmt}' has a fixed layout",
            f"remove columns, or use a format with a header: {', '.join(MAPPED_FORMATS)}",
        )
    spec = LeakageSpec(
        format=fmt,
        path=config_path(source.parent, path) if path else None,
        record=record,
        record_field=field_name,
        relative_to=config_path(source.parent, relative_to) if relative_to else None,
        columns={str(k): str(v) for k, v in columns.items()},
        binary_cutoff=table.number("binary_cutoff", None),
        max_share=table.number("max_share", 0.0, low=0.0, high=1.0),
        required=table.get("required", bool, False),
    )
    table.finish()
    return spec


def _matryoshka(source: Path, table: Table) -> MatryoshkaSpec:
    dims = table.get("dimensions", list, [])
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims) or len(
        set(dims)
    ) != len(dims):
        raise ConfigError(
            source,
            f"[matryoshka] dimensions = {dims!r} must be distinct positive whole numbers",
            "list them like dimensions = [384, 256, 128, 64]",
        )
    targets: dict[int, dict[str, float]] = {}
    raw_targets = table.get("targets", dict, {})
    for key, metrics in raw_targets.items():
        where = f"[matryoshka.targets.{key}]"
        if not str(key).isdigit() or int(key) not in dims:
            raise ConfigError(
                source,
                f"{where}: {key!r} is not one of the listed dimensions {dims}",
                'name a listed dimension, e.g. [matryoshka.targets."128"]',
            )
        inner = Table(source, where.strip("[]"), metrics)
        targets[int(key)] = {}
        for metric in list(inner.data):
            _pair_metrics(source, where, [metric])
            targets[int(key)][metric] = inner.number(metric, low=-1.0, high=1.0)
        inner.finish()
    spec = MatryoshkaSpec(tuple(sorted(dims, reverse=True)), targets, source)
    table.finish()
    return spec
