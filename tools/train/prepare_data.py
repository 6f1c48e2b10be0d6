#!/usr/bin/python3
"""Tokenize the extracted corpus (tools/work/corpus) with vocab.txt into one compressed
npz (tools/work/data/tokens.npz) that the trainer reads.  Deterministic.

Pretraining streams: per source and split, documents joined as  doc <|endoftext|> doc ...
Instruction pairs: chat-formatted, IT template of the Talkie chat format:
  [<|system|>S<|end|>] <|user|>Q<|end|><|assistant|>A<|end|>
with a loss mask on A<|end|>.
"""
import json
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bpe"))
import talkie_bpe  # noqa: E402

WEBSTER_Q = [("What is the meaning of the word {w}?", 0.7), ("What does {w} mean?", 0.15), ("Define {w}.", 0.15)]
DEVIL_SYS = "You are Ambrose Bierce, author of The Devil's Dictionary."
MAX_IT = 160


def pick(rng, opts):
    r, acc = rng.random(), 0.0
    for o, p in opts:
        acc += p
        if r < acc:
            return o
    return opts[-1][0]


def it_example(enc, rng, src, word, answer):
    sp = enc.special
    w = word.lower() if rng.random() < 0.7 else word
    sys_ids = []
    if src == "devil":
        if rng.random() < 0.5:
            q = "What does Bierce's Devil's Dictionary say of %s?" % w
        else:
            q = "What is the meaning of the word %s?" % w
            sys_ids = [sp["<|system|>"]] + enc.encode_ordinary(DEVIL_SYS) + [sp["<|end|>"]]
    else:
        q = pick(rng, WEBSTER_Q).format(w=w)
    prompt = sys_ids + [sp["<|user|>"]] + enc.encode_ordinary(q) + [sp["<|end|>"], sp["<|assistant|>"]]
    ans = enc.encode_ordinary(answer) + [sp["<|end|>"]]
    return prompt, ans


def main():
    root = os.path.join(HERE, "..", "work")
    corpus = os.path.join(root, "corpus")
    vocab = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "bpe", "vocab.txt")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "data", "tokens.npz")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    enc = talkie_bpe.Encoder(vocab)
    eot = enc.special["<|endoftext|>"]
    arrays, stats = {}, {"ranks": enc.R, "vocab_size": enc.vocab_size}
    for split in ("train", "heldout"):
        streams = {}
        with open(os.path.join(corpus, split + ".jsonl"), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                streams.setdefault(d["src"], []).extend(enc.encode_ordinary(d["text"]) + [eot])
        for src, ids in streams.items():
            arrays["%s_%s" % (split, src)] = np.array(ids, dtype=np.uint16)
            stats["tokens_%s_%s" % (split, src)] = len(ids)
    for split in ("train", "heldout"):
        rng = random.Random(1930 if split == "train" else 1931)
        flat, offs, plen = [], [0], []
        dropped = 0
        with open(os.path.join(corpus, "it_%s.jsonl" % split), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                p, a = it_example(enc, rng, d["src"], d["word"], d["answer"])
                if len(p) + len(a) > MAX_IT:
                    dropped += 1
                    continue
                flat.extend(p + a)
                offs.append(len(flat))
                plen.append(len(p))
        arrays["it_%s_ids" % split] = np.array(flat, dtype=np.uint16)
        arrays["it_%s_offs" % split] = np.array(offs, dtype=np.int64)
        arrays["it_%s_plen" % split] = np.array(plen, dtype=np.int32)
        stats["it_%s_examples" % split] = len(plen)
        stats["it_%s_dropped_long" % split] = dropped
        stats["it_%s_tokens" % split] = len(flat)
    arrays["meta_ranks"] = np.array([enc.R], dtype=np.int64)
    np.savez_compressed(out, **arrays)
    stats["npz_bytes"] = os.path.getsize(out)
    with open(os.path.splitext(out)[0] + "_stats.json", "w") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
