#!/usr/bin/python3
"""Build the talkie-tiny-1930 corpus from installed Debian packages (stdlib only).

Sources (see tools/corpus/README.md for licences and the exact filters):
  kjv     King James Bible        bible-kjv-text (read through /usr/bin/bible of bible-kjv)
  devil   The Devil's Dictionary  dict-devil  (/usr/share/dictd/devil.{index,dict.dz})
  webster Webster 1913 in GCIDE   dict-gcide  (/usr/share/dictd/gcide.{index,dict.dz})

One document = one Bible chapter / one dictionary entry.
Held-out split: within each source, document number i (0-based, in source order)
is held out iff i % 50 == 49. Everything else is train.

Outputs (default tools/work/corpus/):
  train.jsonl, heldout.jsonl        {"src": ..., "id": ..., "text": ...}
  it_train.jsonl, it_heldout.jsonl  {"src": ..., "word": ..., "answer": ...}
  stats.json
Deterministic: no randomness, sorted/ordered input.
"""
import base64
import gzip
import json
import os
import re
import subprocess
import sys
import unicodedata

HELD_EVERY = 50
DICTD = "/usr/share/dictd"


def b64num(s):
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for ch in s:
        n = n * 64 + alpha.index(ch)
    return n


def dictd_chunks(name):
    """Yield (headword, text) for each distinct (offset, length) in index order of offset."""
    data = gzip.open(os.path.join(DICTD, name + ".dict.dz"), "rb").read()
    seen = {}
    with open(os.path.join(DICTD, name + ".index"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            hw, off, ln = parts[0], b64num(parts[1]), b64num(parts[2])
            if hw.startswith("00-database") or hw.startswith("00database"):
                continue
            if (off, ln) not in seen:
                seen[(off, ln)] = hw
    for (off, ln) in sorted(seen):
        yield seen[(off, ln)], data[off:off + ln].decode("utf-8", errors="replace")


def reflow(lines):
    """Join wrapped prose lines into paragraphs (blank line separates paragraphs)."""
    paras, cur = [], []
    for ln in lines:
        if ln.strip() == "":
            if cur:
                paras.append(" ".join(cur))
                cur = []
        else:
            cur.append(ln.strip())
    if cur:
        paras.append(" ".join(cur))
    return [re.sub(r"[ \t]+", " ", p) for p in paras]


# ---------------------------------------------------------------- KJV
def kjv_docs():
    out = subprocess.run(["/usr/bin/bible", "-l100000", "Gen1:1-Rev22:21"],
                         check=True, capture_output=True).stdout.decode("utf-8")
    docs, title, verses = [], None, []
    for ln in out.split("\n"):
        m = re.match(r"^(\S.*\S) (\d+)$", ln)
        if m and not ln.startswith(" "):
            if title:
                docs.append((title, verses))
            title, verses = ln, []
            continue
        m = re.match(r"^\s+(\d+) (.*)$", ln)
        if m:
            verses.append(m.group(2).strip())
        elif ln.strip():
            raise ValueError("unexpected KJV line: %r" % ln)
    if title:
        docs.append((title, verses))
    for title, verses in docs:
        yield title, title + "\n\n" + "\n".join(verses)


# ---------------------------------------------------------------- Devil's Dictionary
def devil_docs():
    for hw, txt in dictd_chunks("devil"):
        lines = txt.rstrip().split("\n")
        # first line of a chunk repeats nothing special: it is "WORD, n.  Definition..."
        paras, prose = [], []
        for ln in lines:
            if ln.startswith("    ") and ln.strip():          # verse or attribution
                if prose:
                    paras.extend(reflow(prose))
                    prose = []
                paras.append("  " + ln.strip())
            else:
                if prose and re.search(r"[a-z]-$", prose[-1]) and ln[:1].islower():
                    prose[-1] = prose[-1] + ln.strip()     # hyphenated line break: keep the hyphen
                    continue
                prose.append(ln)
        if prose:
            paras.extend(reflow(prose))
        text = ""
        for p in paras:
            if p.startswith("  "):
                text += ("\n" if text else "") + p.strip()
            else:
                text += ("\n\n" if text else "") + p
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        text = re.sub(r"([.!?])  +", r"\1 ", text)
        text = re.sub(r"\{([^{}]*)\}", r"\1", text)
        text = text.replace("_", "")
        yield hw, text


def devil_pair(text):
    m = re.match(r"^([A-Z][A-Z' \-,.]*?), ((?:[a-z]+\.\s?)+)\s*(.*)$", text.split("\n\n")[0])
    if not m:
        return None
    word = m.group(1).strip().title()
    ans = re.sub(r"^\[[^\]]*\]\s*", "", m.group(3).strip())
    if len(ans) < 8 or len(ans) > 400:
        return None
    return word, ans


# ---------------------------------------------------------------- Webster 1913 (GCIDE)
# Source attributions in GCIDE are bracketed tags ending a line, e.g. "[1913 Webster]",
# "[Webster 1913 Suppl.]", "[WordNet 1.5]", "[PJC]", "[1913 Webster +PJC]".
SRC_NAME = r"(?:1913 Webster|Webster 1913 Suppl\.?|WordNet(?: 1\.\d| sense \d+)?|PJC\.?|AS|RDH|RP|GG|JC|\[JC|MW\d*|RHUD|WE1|wn1|Century Dict\.?,? 1906\.?)"
SRC_TAG = re.compile(r"\[\s*" + SRC_NAME + r"(?:\s*\+?\s*" + SRC_NAME + r")*\s*\]")
MODERN_MARK = re.compile(r"WordNet|PJC|Webster 1913 Suppl|Century Dict|RDH|RHUD")

ACCENT = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", ",": "\u0327"}
PLAIN_MARK = {"=", ".", "-", "*"}      # macron / dot / short / stress marks (pronunciation) -> dropped
NAMED = {"ae": "\u00e6", "AE": "\u00c6", "oe": "\u0153", "OE": "\u0152", "eth": "\u00f0", "thorn": "\u00fe",
         "deg": "\u00b0", "sect": "\u00a7", "root": "\u221a", "imac": "\u012b", "aum": "\u00e4",
         "add": "a", "asl": "a", "udd": "u", "ng": "n", "th": "th", "yogh": "\u021d", "=ae": "\u00e6",
         "=oo": "oo", "oo^": "oo", "alpha": "\u03b1", "beta": "\u03b2", "gamma": "\u03b3", "delta": "\u03b4",
         "Delta": "\u0394", "theta": "\u03b8", "pi": "\u03c0", "phi": "\u03c6", "tau": "\u03c4", "iota": "\u03b9",
         "kappa": "\u03ba", "eta": "\u03b7", "chi": "\u03c7", "mu": "\u03bc", "nu": "\u03bd", "rho": "\u03c1",
         "sigma": "\u03c3", "xi": "\u03be", "Gamma": "\u0393", "times": "\u00d7", "divby": "\u00f7",
         "div": "\u00f7", "nbsp": " ", "ldqo": "\u201c", "rdqo": "\u201d", "rsquo": "\u2019", "para": "\u00b6",
         "min": "\u2032", "sec": "\u2033", "dag": "\u2020", "sharp": "\u266f", "flat": "\u266d",
         "schwa": "\u0259", "hand": "\u261e", "bar": "|", "rarr": "\u2192", "dsdot": "d", "tsdo": "t",
         "lsdot": "l", "zdot": "z", "mdot": "m", "mtil": "m"}
CODE = re.compile(r"\[([A-Za-z=.\-*'`\"^~,]{1,5})\]")


def code_sub(m):
    c = m.group(1)
    if c in NAMED:
        return NAMED[c]
    if len(c) == 2:
        a, b = c[0], c[1]
        if a in ACCENT and b.isalpha():
            return unicodedata.normalize("NFC", b + ACCENT[a])
        if b == "^" and a.isalpha():          # breve (pronunciation)
            return a
        if a in PLAIN_MARK and b.isalpha():
            return b
    if len(c) == 3 and c[0] in PLAIN_MARK and c[1:].isalpha():
        return c[1:]
    return m.group(0)


def webster_clean(txt):
    """Return (headline, [paragraphs]) for a kept entry, or None if rejected.

    Kept iff every source tag in the chunk is exactly "[1913 Webster]" (at least one),
    and no modern-source marker (WordNet, PJC, Webster 1913 Suppl., Century Dict., RDH,
    RHUD) occurs anywhere in the chunk."""
    lines = txt.rstrip().split("\n")
    n1913 = 0
    for l in lines:
        for m in SRC_TAG.finditer(l):
            if re.fullmatch(r"\[\s*1913 Webster\s*\]", m.group(0).strip()):
                n1913 += 1
            else:
                return None
    if n1913 == 0 or MODERN_MARK.search(txt):
        return None
    body = []
    for l in lines:
        m = SRC_TAG.search(l)
        if m:
            before, after = l[:m.start()], l[m.end():]
            body.append(before)
            body.append("")                       # a source tag closes a paragraph
            if after.strip() and not re.fullmatch(r"[a-z0-9 .'\-]+", after.strip()):
                body.append(after)                # real text continues (else: dictd key junk)
        else:
            body.append(l)
    paras = reflow(body)
    out = []
    for p in paras:
        p = re.sub(r"\\[^\\\n]{0,80}\\", "\x01", p)                  # \Pro*nun"ci*a`tion\ spellings
        p = re.sub(r"\x01\s*\([^()]*\)", "\x01", p)                     # (phonetic respelling)
        p = re.sub(r"\s*\x01", "", p)
        p = re.sub(r"\s+,", ",", p)
        for _ in range(2):
            p = CODE.sub(code_sub, p)
        p = re.sub(r"\{([^{}]*)\}", r"\1", p)
        p = re.sub(r"\{([^{}]*)\}", r"\1", p)
        p = p.replace("<--", "").replace("-->", "")
        p = re.sub(r"[ \t]+", " ", p).strip()
        if p:
            out.append(p)
    if not out:
        return None
    return out[0], out[1:]


def skip_brackets(s):
    """s starts with '[': return the rest after the balanced bracket group."""
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch == "[") - (ch == "]")
        if depth == 0:
            return s[i + 1:]
    return ""


def webster_pair(head, rest):
    m = re.match(r"^([A-Za-z][A-Za-z' \-]{0,30}?)((?:, [A-Z][A-Za-z' \-]*?)*), ", head)
    if not m:
        return None
    word = m.group(1).strip()
    s = head[m.end():]
    m2 = re.match(r"^((?:(?:[a-z]{1,5}\.|&|sing\.|pl\.)\s*)+)", s)
    if not m2:
        return None
    s = s[m2.end():].lstrip(" ;,")
    if s.startswith("["):
        s = skip_brackets(s).strip()
    d = s if s else (rest[0] if rest else "")
    d = re.sub(r"^1\.\s+", "", d)
    d = re.sub(r"^\((?:[A-Z][\w.]*\.?\s?(?:&\s)?)+\)\s*", "", d)     # (Bot.) field label
    d = re.split(r"\s2\.\s", d)[0]                                       # first sense only
    d = re.split(r' "|\s--', d)[0].strip()                             # drop quotations / authorities
    d = re.sub(r"\s*\[(?:Obs|R|Colloq)\.\]\s*$", "", d).strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z' \-]{1,30}", word) or len(d) < 6 or len(d) > 300:
        return None
    if d.startswith("See ") or d.startswith("[") or d.startswith("Same as") or not d.endswith("."):
        return None
    return word, d


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "work", "corpus")
    os.makedirs(outdir, exist_ok=True)
    ftr = open(os.path.join(outdir, "train.jsonl"), "w", encoding="utf-8")
    fho = open(os.path.join(outdir, "heldout.jsonl"), "w", encoding="utf-8")
    itr = open(os.path.join(outdir, "it_train.jsonl"), "w", encoding="utf-8")
    iho = open(os.path.join(outdir, "it_heldout.jsonl"), "w", encoding="utf-8")
    stats = {}

    def emit(src, i, did, text):
        st = stats.setdefault(src, {"docs": 0, "chars": 0, "train_docs": 0, "train_chars": 0,
                                    "heldout_docs": 0, "heldout_chars": 0, "it_pairs_train": 0,
                                    "it_pairs_heldout": 0})
        held = (i % HELD_EVERY) == HELD_EVERY - 1
        st["docs"] += 1
        st["chars"] += len(text)
        k = "heldout" if held else "train"
        st[k + "_docs"] += 1
        st[k + "_chars"] += len(text)
        (fho if held else ftr).write(json.dumps({"src": src, "id": did, "text": text}, ensure_ascii=False) + "\n")
        return held

    def emit_pair(src, held, word, ans):
        stats[src]["it_pairs_" + ("heldout" if held else "train")] += 1
        (iho if held else itr).write(json.dumps({"src": src, "word": word, "answer": ans}, ensure_ascii=False) + "\n")

    for i, (title, text) in enumerate(kjv_docs()):
        emit("kjv", i, title, text)
    for i, (hw, text) in enumerate(devil_docs()):
        held = emit("devil", i, hw, text)
        p = devil_pair(text)
        if p:
            emit_pair("devil", held, *p)
    i = 0
    rejected = 0
    for hw, txt in dictd_chunks("gcide"):
        c = webster_clean(txt)
        if c is None:
            rejected += 1
            continue
        head, rest = c
        text = (head + "\n" + "\n".join(rest)).strip()
        held = emit("webster", i, hw, text)
        p = webster_pair(head, rest)
        if p:
            emit_pair("webster", held, *p)
        i += 1
    stats["webster"]["gcide_chunks_rejected"] = rejected
    for f in (ftr, fho, itr, iho):
        f.close()
    with open(os.path.join(outdir, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
