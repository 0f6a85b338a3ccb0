"""Writes the bench model (bench/complete_model.py's hf/) as GGUF files for the llama.cpp peer, with the product's
GGUF export (server/trainer/repotune_trainer/export_gguf.py), so the peer also proves llama.cpp loads what users get.

    python bench/complete_gguf.py BENCH_DIR

Writes BENCH_DIR/gguf/model-f32.gguf and model-q4_0.gguf: the same weights; Q4_0 (blocks of 32, one scale) for
every 2-D weight in the q4_0 file, as our int4 ONNX export (whose tied lm_head is int4 too; its embedding lookup is
an int8 table, which reads one row per token). The demo tokenizer's 1,088 tokens are padded with unused placeholder tokens up to the model's
151,936 rows.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server" / "trainer"))

from repotune_trainer.export_gguf import GGUF_FILE, export_gguf  # noqa: E402 - after the path setup


def main() -> int:
    bench = Path(sys.argv[1]).resolve()
    hf_dir, out_dir = bench / "hf", bench / "gguf"
    out_dir.mkdir(exist_ok=True)
    for tensor_type in ("f32", "q4_0"):
        target = out_dir / f"model-{tensor_type}.gguf"
        if not target.is_file():
            print(f"writing {target}", file=sys.stderr)
            staging = out_dir / f".{tensor_type}"
            try:
                export_gguf(str(hf_dir), None, str(staging), tensor_type)
                (staging / GGUF_FILE).rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
