#!/usr/bin/python3
"""Cross-check data for the C++ engine.

1. Validates this Python forward against the shared fixtures: the fixture model
   tests/data/model/models/tiny (HF names, bf16) on the input ids of every
   tests/data/model/expected/tiny/len*.safetensors must reproduce its `logits`
   within 1e-5 (it is exact in practice).
2. Loads the SHIPPED bf16 weights (models/talkie-tiny-1930), computes float32 logits on
   CPU (manual attention) for all positions of a held-out passage (the first 64 tokens of
   tests/data/tiny1930/heldout.txt, encoded without special tokens) and writes
   tests/data/tiny1930/crosscheck.safetensors: input_ids I64 [S], logits F32 [S, vocab].

  /usr/bin/python3 tools/train/export_crosscheck.py [--model-dir D] [--out F] [--tokens 64]
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bpe"))
import talkie_bpe  # noqa: E402
import talkie_model as T  # noqa: E402


def validate_fixture():
    m, _ = T.load_model_dir(os.path.join(ROOT, "tests/data/model/models/tiny"))
    worst = 0.0
    for f in sorted(glob.glob(os.path.join(ROOT, "tests/data/model/expected/tiny/len*.safetensors"))):
        ex = T.read_safetensors(f)
        with torch.no_grad():
            lg = m(ex["input_ids"][None], fast=False)[0]
        d = (lg - ex["logits"]).abs().max().item()
        print("fixture %s: max |logits - expected| = %.3g" % (os.path.basename(f), d))
        worst = max(worst, d)
    assert worst <= 1e-5, "Python forward does not match the Talkie fixtures"
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "models/talkie-tiny-1930"))
    ap.add_argument("--text", default=os.path.join(ROOT, "tests/data/tiny1930/heldout.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/data/tiny1930/crosscheck.safetensors"))
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    worst = validate_fixture()
    model, cfg = T.load_model_dir(args.model_dir)
    enc = talkie_bpe.Encoder(os.path.join(args.model_dir, "vocab.txt"))
    ids = enc.encode_ordinary(open(args.text, encoding="utf-8").read())[:args.tokens]
    x = torch.tensor(ids, dtype=torch.int64)
    with torch.no_grad():
        logits = model(x[None], fast=False)[0].float()
    assert logits.shape == (len(ids), cfg["vocab_size"])
    T.write_safetensors(args.out, {"input_ids": ("I64", x.numpy()),
                                   "logits": ("F32", logits.numpy().astype(np.float32))},
                        {"format": "pt", "model": "talkie-tiny-1930", "text": enc.decode(ids),
                         "compute": "float32 on bf16 weights, manual attention, torch %s CPU" % torch.__version__,
                         "fixture_max_abs_diff": "%.3g" % worst})
    print("wrote %s: %d tokens, logits %s, %d bytes; passage %r" % (
        args.out, len(ids), tuple(logits.shape), os.path.getsize(args.out), enc.decode(ids)))
    print("greedy next tokens:", enc.decode(logits.argmax(-1).tolist())[:200])


if __name__ == "__main__":
    main()
