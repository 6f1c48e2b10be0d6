#!/usr/bin/python3
"""Byte-level BPE for talkie-tiny-1930: Talkie's exact pre-tokenizer, a trainer, and a
tiktoken-rule encoder/decoder.  Needs the `regex` module (Debian python3-regex).

vocab.txt (tiktoken format): one "base64(token bytes) rank" per line, sorted by rank;
ranks 0..255 are the single bytes 0x00..0xff, then one rank per merge.
Special tokens are NOT in vocab.txt; with R ranks the engine (and this module) uses
  <|endoftext|> = R, <|end|> = R+1, <|user|> = R+2, <|assistant|> = R+3, <|system|> = R+4
and the shipped (IT) model has vocab_size = R + 5.

Usage:
  train:  /usr/bin/python3 tools/bpe/talkie_bpe.py train CORPUS.jsonl OUT/vocab.txt [ranks=4096]
  encode: /usr/bin/python3 tools/bpe/talkie_bpe.py encode vocab.txt "some text"
"""
import base64
import collections
import json
import sys

import regex

# Talkie's pre-tokenizer (spec section 4).  \s / \S are spelled as the Unicode
# White_Space property explicitly; (?i:...) is a scoped case-insensitive group.
_WS = r"\p{White_Space}"
_NWS = r"\P{White_Space}"
PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^" + _WS + r"\p{L}\p{N}]+[\r\n/]*",
    _WS + r"*[\r\n]+",
    _WS + r"+(?!" + _NWS + r")",
    _WS + r"+",
])
PAT = regex.compile(PATTERN)

SPECIALS = ["<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]


def pretokenize(text):
    return PAT.findall(text)


# ------------------------------------------------------------------ training
def train(texts, n_ranks=4096, verbose=True):
    """Classic byte-level BPE on pre-tokenized pieces.  Deterministic: the most frequent
    adjacent pair wins, ties broken by the smaller (left bytes, right bytes).
    Returns the list of token byte strings, index = rank."""
    counts = collections.Counter()
    for t in texts:
        counts.update(PAT.findall(t))
    vocab = [bytes([i]) for i in range(256)]
    index = {b: i for i, b in enumerate(vocab)}
    words = []            # list of [token ids]
    wcount = []
    for w, c in counts.items():
        words.append(list(w.encode("utf-8")))
        wcount.append(c)
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        c = wcount[wi]
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += c
            where[(a, b)].add(wi)
    while len(vocab) < n_ranks and pairs:
        cnt = max(pairs.values())
        a, b = min((p for p, c in pairs.items() if c == cnt), key=lambda p: (vocab[p[0]], vocab[p[1]]))
        if cnt <= 0:
            break
        newb = vocab[a] + vocab[b]
        if newb in index:                 # same bytes reachable by another split: reuse rank
            new = index[newb]
        else:
            new = len(vocab)
            vocab.append(newb)
            index[newb] = new
        for wi in list(where[(a, b)]):
            w = words[wi]
            c = wcount[wi]
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] -= c
                if pairs[(x, y)] == 0:
                    del pairs[(x, y)]
            i, out = 0, []
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += c
                where[(x, y)].add(wi)
        pairs.pop((a, b), None)
        where.pop((a, b), None)
        if verbose and len(vocab) % 256 == 0:
            print("bpe: %d ranks, last merge %r (count %d)" % (len(vocab), newb, cnt), flush=True)
    return vocab


def save_vocab(vocab, path):
    with open(path, "w") as f:
        for r, b in enumerate(vocab):
            f.write("%s %d\n" % (base64.b64encode(b).decode("ascii"), r))


def load_vocab(path):
    ranks = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                t, r = line.split()
                ranks[base64.b64decode(t)] = int(r)
    return ranks


# ------------------------------------------------------------------ encoding (tiktoken rule)
class Encoder:
    def __init__(self, vocab_path):
        self.ranks = load_vocab(vocab_path)
        self.R = len(self.ranks)
        assert sorted(self.ranks.values()) == list(range(self.R))
        self.inv = {r: b for b, r in self.ranks.items()}
        self.special = {s: self.R + i for i, s in enumerate(SPECIALS)}
        self.inv_special = {v: k for k, v in self.special.items()}
        self.vocab_size = self.R + len(SPECIALS)
        self.cache = {}
        self.special_re = regex.compile("|".join(regex.escape(s) for s in SPECIALS))

    def _bpe(self, piece):
        b = piece.encode("utf-8")
        r = self.ranks.get(b)
        if r is not None:
            return [r]
        parts = [b[i:i + 1] for i in range(len(b))]
        while len(parts) > 1:
            best, bi = None, -1
            for i in range(len(parts) - 1):
                rr = self.ranks.get(parts[i] + parts[i + 1])
                if rr is not None and (best is None or rr < best):
                    best, bi = rr, i
            if best is None:
                break
            parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
        return [self.ranks[p] for p in parts]

    def encode_ordinary(self, text):
        out = []
        for piece in PAT.findall(text):
            ids = self.cache.get(piece)
            if ids is None:
                ids = self._bpe(piece)
                if len(self.cache) < 2000000:
                    self.cache[piece] = ids
            out.extend(ids)
        return out

    def encode(self, text, allow_special=True):
        """Special-token strings in the text map to their ids when allow_special."""
        if not allow_special:
            return self.encode_ordinary(text)
        out, pos = [], 0
        for m in self.special_re.finditer(text):
            out.extend(self.encode_ordinary(text[pos:m.start()]))
            out.append(self.special[m.group(0)])
            pos = m.end()
        out.extend(self.encode_ordinary(text[pos:]))
        return out

    def decode_bytes(self, ids):
        return b"".join(self.inv[i] if i in self.inv else self.inv_special[i].encode() for i in ids)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "train":
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
        texts = []
        with open(sys.argv[2], encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line)["text"])
        vocab = train(texts, n)
        save_vocab(vocab, sys.argv[3])
        print("wrote %d ranks to %s" % (len(vocab), sys.argv[3]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "encode":
        enc = Encoder(sys.argv[2])
        ids = enc.encode(sys.argv[3])
        print(ids)
        print([enc.decode([i]) for i in ids])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
