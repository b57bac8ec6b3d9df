"""A checkpoint folder's files as untrusted input.

`scan_checkpoint` lists every file below a checkpoint folder once, at discovery: a path that
leaves the folder (a link resolving outside it), anything that is not a regular file or folder,
and a file larger than its type's limit are refused before anything is parsed. The listing is
the checkpoint's manifest: each file's sha256 and size. Every later read of a checkpoint file
goes through the manifest (`Manifest.read`, `Manifest.copy`), which hashes the bytes as it
reads them and refuses a file that changed since discovery, so the bytes the gate uses are the
bytes it fingerprinted.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import CheckpointError

MB = 1024 * 1024
GB = 1024 * MB
#: config JSON (adapter_config.json, config.json, modules.json, tokenizer_config.json, ...)
CONFIG_JSON_LIMIT = 1 * MB
#: tokenizer.json and vocabularies (multilingual tokenizer.json files reach about 17 MB)
TOKENIZER_LIMIT = 64 * MB
#: an adapter weights file, before its base is known (the base then bounds it tighter:
#: `harness.checkpoint.preflight.adapter_element_bound`); a sentence encoder's LoRA is a few MB
ADAPTER_WEIGHTS_LIMIT = 2 * GB
#: a full model's weights file (the largest sentence encoders' are a few GB)
MODEL_WEIGHTS_LIMIT = 32 * GB
#: config files sentence-transformers, transformers and PEFT parse
CONFIG_JSON_NAMES = frozenset(
    {
        "adapter_config.json",
        "config.json",
        "modules.json",
        "config_sentence_transformers.json",
        "sentence_bert_config.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "generation_config.json",
        "model.safetensors.index.json",
        "pytorch_model.bin.index.json",
    }
)
TOKENIZER_NAMES = frozenset(
    {
        "tokenizer.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "tokenizer.model",
    }
)
ADAPTER_WEIGHTS_NAMES = frozenset({"adapter_model.safetensors", "adapter_model.bin"})
DO_NOT_WRITE = (
    "do not write into a checkpoint folder while the gate runs; rerun the gate on the folder "
    "as it is now"
)


def size_limit(name: str) -> int | None:
    """The size limit of a checkpoint file by its name (None: hashed, never parsed)."""
    if name in CONFIG_JSON_NAMES:
        return CONFIG_JSON_LIMIT
    if name in TOKENIZER_NAMES:
        return TOKENIZER_LIMIT
    if name in ADAPTER_WEIGHTS_NAMES:
        return ADAPTER_WEIGHTS_LIMIT
    if name.startswith(("model", "pytorch_model")) and name.endswith((".safetensors", ".bin")):
        return MODEL_WEIGHTS_LIMIT
    return None


def _limit_text(limit: int) -> str:
    return f"{limit // GB} GB" if limit >= GB else f"{limit // MB} MB"


@dataclass(frozen=True)
class FileEntry:
    """One file of a manifest: its sha256 and size when it was listed."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """Every file below a checkpoint folder (relative POSIX path -> FileEntry), as discovered."""

    folder: Path  # as discovered (paths into it are built from it)
    root: Path  # the folder resolved: what every file must stay inside
    files: Mapping[str, FileEntry]

    @property
    def fingerprint(self) -> str:
        """sha256 over the relative names and file hashes, in sorted order."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode())
            digest.update(b"\0")
            digest.update(self.files[name].sha256.encode())
        return digest.hexdigest()

    def relative(self, path: Path) -> str:
        """`path` (below the root) as the manifest names it."""
        return Path(os.path.relpath(path, self.folder)).as_posix()

    def entry(self, path: Path) -> FileEntry:
        name = self.relative(path)
        if name not in self.files:
            raise CheckpointError(
                path,
                "was not in the checkpoint folder when the gate discovered it",
                DO_NOT_WRITE,
            )
        return self.files[name]

    def read(self, path: Path, *, limit: int | None = None) -> bytes:
        """The bytes of one file, read once, size-checked before reading and compared with the
        manifest's hash; a file that changed since discovery is refused."""
        entry = self.entry(path)
        limit = size_limit(path.name) if limit is None else limit
        if limit is not None and entry.size > limit:
            raise _too_large(path, entry.size, limit)
        with _open_inside(self.root, path) as handle:
            data = handle.read(entry.size + 1)
        _same_as_discovered(path, entry, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def copy(self, path: Path, target: Path) -> None:
        """Copy one file to `target` (in the gate's own folder), hashing while copying; a file
        that changed since discovery is refused and the copy removed."""
        entry = self.entry(path)
        digest, size = hashlib.sha256(), 0
        try:
            with _open_inside(self.root, path) as source, open(target, "xb") as out:
                while chunk := source.read(MB):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            _same_as_discovered(path, entry, digest.hexdigest(), size)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def copy_tree(self, target: Path, *, skip: frozenset[str] = frozenset()) -> None:
        """Every file of the manifest (but those in `skip`) copied below `target`."""
        for name in sorted(self.files):
            if name in skip or any(str(p) in skip for p in PurePosixPath(name).parents):
                continue
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.copy(self.folder / name, destination)


def _same_as_discovered(path: Path, entry: FileEntry, sha256: str, size: int) -> None:
    if sha256 != entry.sha256 or size != entry.size:
        raise CheckpointError(
            path,
            f"changed while the gate ran: {size} bytes with sha256 {sha256[:16]}... now, "
            f"{entry.size} bytes with sha256 {entry.sha256[:16]}... when the checkpoint was "
            "discovered, so the model gated would not be the model fingerprinted",
            DO_NOT_WRITE,
        )


def _too_large(path: Path, size: int, limit: int) -> CheckpointError:
    return CheckpointError(
        path,
        f"is {size:,} bytes, over the {_limit_text(limit)} limit for a {path.name} "
        "(checked before it is read)",
        "re-save the checkpoint with save_pretrained; a file this large is not what it claims",
    )


def _open_inside(root: Path, path: Path) -> Any:
    """Open a file that must still resolve inside `root` and still be a regular file."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise CheckpointError(
            path, f"now resolves to {resolved}, outside the checkpoint folder", DO_NOT_WRITE
        )
    handle = open(resolved, "rb")  # noqa: SIM115 (the caller's with-block closes it)
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise CheckpointError(path, "is no longer a regular file", DO_NOT_WRITE)
    return handle


def _file_hash(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def scan_checkpoint(folder: Path) -> Manifest:
    """The manifest of a checkpoint folder; links that leave it, special files and files over
    their type's size limit are refused, naming the entry."""
    root = folder.resolve()
    files: dict[str, FileEntry] = {}
    # (folder, its name in the manifest, the real folders above it): a link to a folder inside
    # is listed under the name the gate reads it by; a link to a folder above it is a loop
    pending: list[tuple[Path, str, frozenset[Path]]] = [(root, "", frozenset({root}))]
    while pending:
        directory, prefix, above = pending.pop()
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = f"{prefix}{entry.name}"
                shown = folder / name
                target = Path(entry.path).resolve() if entry.is_symlink() else Path(entry.path)
                if not target.is_relative_to(root):
                    raise CheckpointError(
                        shown,
                        f"is a link to {target}, outside the checkpoint folder {folder}: the "
                        "gate reads nothing outside the folder it gates",
                        "copy the file into the checkpoint folder instead of linking it",
                    )
                try:
                    mode = target.stat().st_mode
                except OSError as exc:
                    raise CheckpointError(
                        shown,
                        f"cannot be read ({exc.strerror}): a broken link or no permission",
                        "remove it or restore what it points to",
                    ) from exc
                if stat.S_ISDIR(mode):
                    if target in above:
                        raise CheckpointError(
                            shown,
                            "is a link to a folder that holds it (a loop)",
                            "remove the link from the checkpoint folder",
                        )
                    pending.append((target, f"{name}/", above | {target}))
                    continue
                if not stat.S_ISREG(mode):
                    raise CheckpointError(
                        shown,
                        "is not a regular file (a pipe, socket or device)",
                        "remove it from the checkpoint folder",
                    )
                size = target.stat().st_size
                limit = size_limit(entry.name)
                if limit is not None and size > limit:
                    raise _too_large(shown, size, limit)
                files[name] = FileEntry(_file_hash(target), size)
    return Manifest(folder, root, dict(sorted(files.items())))


def inside(folder: Path, relative: Any, *, source: Path, entry: str) -> Path:
    """`folder / relative` for a path a checkpoint file names (`source`'s `entry`): it must be
    a relative path without `..` that stays inside the folder, checked before it is used."""
    fix = (
        f"make {entry} in {source.name} a path inside the checkpoint folder (as save_pretrained "
        "writes it)"
    )
    if not isinstance(relative, str):
        raise CheckpointError(
            source, f"{entry}: expected a path (a string), found {json.dumps(relative)}", fix
        )
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if relative.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise CheckpointError(
            source,
            f"{entry} = {json.dumps(relative)} leaves the checkpoint folder (an absolute path "
            "or a '..' component)",
            fix,
        )
    path = folder.joinpath(*parts)
    if not path.resolve().is_relative_to(folder.resolve()):
        raise CheckpointError(
            source,
            f"{entry} = {json.dumps(relative)} resolves to {path.resolve()}, outside the "
            "checkpoint folder",
            fix,
        )
    return path


def parse_json(data: bytes, path: Path, fix: str) -> Any:
    """A checkpoint file's JSON; not UTF-8, not JSON or nested too deeply is a CheckpointError."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError(path, f"is not UTF-8 text ({exc.reason})", fix) from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"is not valid JSON ({exc})", fix) from exc
    except RecursionError as exc:
        raise CheckpointError(path, "is JSON nested too deeply to be a config", fix) from exc
