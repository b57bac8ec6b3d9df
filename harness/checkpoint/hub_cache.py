"""Models already in the local Hugging Face cache, found offline through huggingface_hub.

Nothing is downloaded: every lookup passes `local_files_only=True`. The cache folder is
computed at each lookup (huggingface_hub reads HF_HOME and HF_HUB_CACHE once, at import).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.errors import CheckpointError

FULL_HASH = re.compile(r"^[0-9a-f]{40}$")
#: what a shortened commit hash looks like (git abbreviates to 7 characters or more)
SHORT_HASH = re.compile(r"^[0-9a-f]{7,39}$")


def hub_cache_dir() -> Path:
    """The cache folder huggingface_hub uses: $HF_HUB_CACHE, else $HF_HOME/hub, else
    $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "huggingface" / "hub"


def cached_snapshot(
    repo_id: str, revision: str | None, cache_dir: Path, *, source: str | Path
) -> Path | None:
    """The cached snapshot folder of `repo_id` at `revision` (a full commit hash, a branch or a
    tag; None: main), or None when the cache does not hold it (or `repo_id` is no hub id).

    A short commit hash the cache cannot resolve, or a snapshot the cache knows to be
    incomplete, is an error naming `source`."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
    )

    try:
        folder = snapshot_download(
            repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True
        )
    except IncompleteSnapshotError as exc:
        raise CheckpointError(
            source,
            f"the cached snapshot of '{repo_id}' in {cache_dir} is incomplete: {exc}",
            "complete the download where the hub can be reached, or point [aliases] at a "
            "complete local copy",
        ) from exc
    except (LocalEntryNotFoundError, HFValidationError):
        if revision is not None and SHORT_HASH.match(revision):
            raise CheckpointError(
                source,
                f"revision '{revision}' of '{repo_id}' looks like a short commit hash, which "
                "the cache cannot resolve offline (it names snapshots by the full hash)"
                + _cached_commit_hint(repo_id, revision, cache_dir),
                "give the full 40-character commit hash (or a branch or tag name)",
            ) from None
        return None
    return Path(folder)


def cached_revisions(repo_id: str, cache_dir: Path) -> dict[str, tuple[str, ...]]:
    """Each cached commit of `repo_id` with the refs (branches, tags) pointing to it; empty
    when the cache holds none (or does not exist)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return {}
    return {
        revision.commit_hash: tuple(sorted(revision.refs))
        for repo in info.repos
        if repo.repo_id == repo_id and repo.repo_type == "model"
        for revision in repo.revisions
    }


def describe_cached(repo_id: str, cache_dir: Path) -> str:
    """What the cache holds of `repo_id`, for a message."""
    revisions = cached_revisions(repo_id, cache_dir)
    if not revisions:
        return "not there"
    held = ", ".join(
        f"{commit}{' (' + ', '.join(refs) + ')' if refs else ''}"
        for commit, refs in sorted(revisions.items())
    )
    return f"cached, but not at that revision; it holds {held}"


def _cached_commit_hint(repo_id: str, short: str, cache_dir: Path) -> str:
    commits = cached_revisions(repo_id, cache_dir)
    matches = [commit for commit in commits if commit.startswith(short)]
    return f"; the cached commit it abbreviates is {matches[0]}" if len(matches) == 1 else ""
