"""A sentence-transformers `modules.json`: the model's modules in order, each a type and a folder
that must lie inside the model folder (checked before any folder is used)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.checkpoint.checkpoint_files import CONFIG_JSON_LIMIT, Manifest, inside, parse_json
from harness.errors import CheckpointError

ST_MODULES = "modules.json"
RESAVE = "re-save the model with sentence-transformers (model.save_pretrained writes modules.json)"


@dataclass(frozen=True)
class ModuleEntry:
    """One module of modules.json: its class (`sentence_transformers.models.Pooling`) and its
    folder inside the model folder ("" for the folder itself)."""

    type: str
    relative: str
    path: Path

    @property
    def class_name(self) -> str:
        return self.type.rsplit(".", 1)[-1]


def read_modules(folder: Path, manifest: Manifest | None = None) -> tuple[ModuleEntry, ...]:
    """The modules `folder/modules.json` lists (none without the file); read through the
    checkpoint's manifest when given. A file that is not a list of modules with a type and a
    path inside the folder is a CheckpointError naming the entry."""
    path = folder / ST_MODULES
    if manifest is not None:
        if manifest.relative(path) not in manifest.files:
            return ()
        data = manifest.read(path)
    else:
        if not path.is_file():
            return ()
        if path.stat().st_size > CONFIG_JSON_LIMIT:
            raise CheckpointError(path, "is over the 1 MB limit for a modules.json", RESAVE)
        data = path.read_bytes()
    entries = parse_json(data, path, RESAVE)
    if not isinstance(entries, list):
        raise CheckpointError(
            path, f"expected a list of modules, found a {type(entries).__name__}", RESAVE
        )
    modules = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise CheckpointError(
                path,
                f"module {index}: expected an object with a 'type' string, found "
                f"{json.dumps(entry)[:120]}",
                RESAVE,
            )
        relative = entry.get("path", "")
        module_path = inside(folder, relative, source=path, entry=f"module {index} 'path'")
        modules.append(ModuleEntry(entry["type"], str(relative), module_path))
    return tuple(modules)


def transformer_entry(folder: Path, modules: tuple[ModuleEntry, ...]) -> ModuleEntry | None:
    """The Transformer module of a model (None: the folder has no modules.json)."""
    if not modules:
        return None
    for module in modules:
        if module.class_name == "Transformer":
            return module
    raise CheckpointError(
        folder / ST_MODULES,
        "lists no Transformer module, so the adapter has no transformer to attach to",
        RESAVE,
    )
