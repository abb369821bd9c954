"""Run every benchmark in this folder, one after the other (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in (
    "gaussian_chains.py",
    "ngram_lm.py",
    "text_diversity.py",
    "self_bleu.py",
    "prdc.py",
    "vendi.py",
    "mauve.py",
    "embedding_throughput.py",
    "sweep_scaling.py",
):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
