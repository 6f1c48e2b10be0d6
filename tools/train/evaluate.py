#!/usr/bin/env python3
"""Evaluate a shipped talkie-tiny model in float32 on its bf16 weights: held-out perplexity
and greedy / sampled samples, all with the exact Python forward (manual attention).

  python3 tools/train/evaluate.py --model-dir models/talkie-tiny-1930 \
      --data tools/work/data/tokens.npz --text tests/data/tiny1930/heldout.txt --out DIR

Perplexity conventions
  heldout corpus: each source's held-out stream (documents joined by <|endoftext|>) is cut
    into non-overlapping windows of --window tokens; inputs a[iW:(i+1)W], targets shifted by
    one; every position scored; ppl = exp(mean NLL).
  text file: the file's tokens (no special tokens added), non-overlapping windows of W tokens
    (W = 512 and W = 2048); in each window the logits at position j score token j+1 of the
    same window (the first token of each window is not scored), i.e. n - ceil(n/W) tokens.
Samples: prompts encoded without special tokens (raw) or in the chat template; greedy =
argmax (first index on ties), full recompute each step; sampled = logits / T, top-k,
top-p (keep the smallest sorted prefix whose cumulative probability exceeds p, always the
top token), then a categorical draw from torch.Generator(seed).  Stops on <|endoftext|>
or <|end|>.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bpe"))
import talkie_bpe  # noqa: E402
import talkie_model as T  # noqa: E402

RAW_PROMPTS = ["In the beginning", "And it came to pass, when the king", "Candle, n.",
               "The word of the LORD came unto me, saying,", "PHILOSOPHY, n."]
CHAT_PROMPTS = [(None, "What is the meaning of the word candle?"),
                (None, "What is the meaning of the word horse?"),
                (None, "Define wisdom."),
                (None, "What does Bierce's Devil's Dictionary say of marriage?"),
                ("You are Ambrose Bierce, author of The Devil's Dictionary.", "What is the meaning of the word politics?")]


@torch.no_grad()
def nll_windows(model, ids, W, dev, score_first=True, bs=16):
    """Sum of NLL and count; windows of W over ids (1-D LongTensor)."""
    tot, cnt = 0.0, 0
    if score_first:               # inputs a[iW:(i+1)W], targets a[iW+1:(i+1)W+1]
        n = (len(ids) - 1) // W
        xs = [ids[i * W:(i + 1) * W] for i in range(n)]
        ys = [ids[i * W + 1:(i + 1) * W + 1] for i in range(n)]
        rest = len(ids) - 1 - n * W
        if rest > 0:
            xs.append(ids[n * W:n * W + rest])
            ys.append(ids[n * W + 1:n * W + rest + 1])
    else:
        xs, ys = [], []
        for s in range(0, len(ids), W):
            w = ids[s:s + W]
            if len(w) >= 2:
                xs.append(w[:-1])
                ys.append(w[1:])
    i = 0
    while i < len(xs):
        L = len(xs[i])
        j = i
        while j < len(xs) and j - i < bs and len(xs[j]) == L:
            j += 1
        x = torch.stack(xs[i:j]).to(dev)
        y = torch.stack(ys[i:j]).to(dev)
        lg = model(x, fast=False)
        tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y.reshape(-1), reduction="sum").item()
        cnt += y.numel()
        i = j
    return tot, cnt


def top_p_filter(logits, k, p):
    if k and k < logits.shape[-1]:
        kth = torch.topk(logits, k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if p < 1.0:
        sl, si = torch.sort(logits, descending=True)
        probs = torch.softmax(sl, -1)
        cum = torch.cumsum(probs, -1)
        keep = (cum - probs) < p          # keep while the mass before this token is < p
        keep[0] = True
        mask = torch.full_like(logits, float("-inf"))
        mask[si[keep]] = 0.0
        logits = logits + mask
    return logits


@torch.no_grad()
def generate(model, ids, n, stop, dev, temperature=0.0, top_k=0, top_p=1.0, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = list(ids)
    out = []
    for _ in range(n):
        lg = model(torch.tensor([ids], device=dev), fast=False)[0, -1].float().cpu()
        if temperature <= 0:
            t = int(torch.argmax(lg))
        else:
            l2 = top_p_filter(lg / temperature, top_k, top_p)
            t = int(torch.multinomial(torch.softmax(l2, -1), 1, generator=g))
        out.append(t)
        ids.append(t)
        if t in stop:
            break
    return out


def chat_ids(enc, system, user):
    sp = enc.special
    ids = []
    if system:
        ids += [sp["<|system|>"]] + enc.encode_ordinary(system) + [sp["<|end|>"]]
    ids += [sp["<|user|>"]] + enc.encode_ordinary(user) + [sp["<|end|>"], sp["<|assistant|>"]]
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default="models/talkie-tiny-1930")
    ap.add_argument("--data", default="tools/work/data/tokens.npz")
    ap.add_argument("--text", default="tests/data/tiny1930/heldout.txt")
    ap.add_argument("--out", default="tools/work/eval")
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-corpus", action="store_true", help="skip the full held-out corpus (slow on CPU)")
    ap.add_argument("--gen-tokens", type=int, default=80)
    ap.add_argument("--no-samples", action="store_true")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    else:
        torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    model, cfg = T.load_model_dir(args.model_dir)
    model = model.to(dev)
    enc = talkie_bpe.Encoder(os.path.join(args.model_dir, "vocab.txt"))
    assert enc.vocab_size == cfg["vocab_size"], (enc.vocab_size, cfg["vocab_size"])
    res = {"device": str(dev), "torch": torch.__version__, "compute": "float32 on bf16 weights, manual attention"}
    if not args.no_corpus:
        arrays = np.load(args.data)
        tot, cnt, per = 0.0, 0, {}
        for s in ("kjv", "webster", "devil"):
            a = torch.from_numpy(arrays["heldout_" + s].astype(np.int64))
            t, c = nll_windows(model, a, args.window, dev)
            per[s] = {"ppl": math.exp(t / c), "tokens": c}
            tot += t
            cnt += c
        res["heldout_corpus"] = {"window": args.window, "ppl": math.exp(tot / cnt), "tokens": cnt, "per_source": per}
        print(json.dumps(res["heldout_corpus"]), flush=True)
    if args.text and os.path.exists(args.text):
        text = open(args.text, encoding="utf-8").read()
        ids = torch.tensor(enc.encode_ordinary(text), dtype=torch.int64)
        res["text_file"] = {"path": args.text, "n_tokens": len(ids)}
        for W in (512, 2048):
            t, c = nll_windows(model, ids, W, dev, score_first=False)
            res["text_file"]["window_%d" % W] = {"ppl": math.exp(t / c), "scored_tokens": c}
        print(json.dumps(res["text_file"]), flush=True)
    if not args.no_samples:
        stop = {enc.special["<|endoftext|>"], enc.special["<|end|>"]}
        md = ["# Samples (Python float32 forward on the shipped bf16 weights)\n"]
        res["samples"] = []
        for kind, prompts in (("raw", RAW_PROMPTS), ("chat", CHAT_PROMPTS)):
            for pr in prompts:
                ids = enc.encode_ordinary(pr) if kind == "raw" else chat_ids(enc, *pr)
                shown = pr if kind == "raw" else enc.decode(ids)
                for mode, kw in (("greedy", {}), ("sampled T=0.8 top_k=40 top_p=0.95 seed=1",
                                                  dict(temperature=0.8, top_k=40, top_p=0.95, seed=1))):
                    o = generate(model, ids, args.gen_tokens, stop, dev, **kw)
                    txt = enc.decode(o)
                    res["samples"].append({"kind": kind, "mode": mode, "prompt": shown, "output_ids": o, "output": txt})
                    md.append("**%s, %s** — prompt `%s`\n\n```\n%s\n```\n" % (kind, mode, shown.replace("`", "'"), txt))
                    print(kind, mode, repr(shown), "->", repr(txt), flush=True)
        with open(os.path.join(args.out, "samples.md"), "w") as f:
            f.write("\n".join(md))
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
