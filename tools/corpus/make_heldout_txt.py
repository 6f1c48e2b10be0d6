#!/usr/bin/python3
"""Write tests/data/tiny1930/heldout.txt: a few KB of plain text taken only from the
held-out split (tools/work/corpus/heldout.jsonl), for the engine's perplexity test.
Content: the first held-out KJV chapter (its first ~1800 characters, whole verses), the
first held-out Devil's Dictionary entry of at least 120 characters, and the first
held-out Webster entries up to ~1800 characters.  Documents joined by a blank line."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "work", "corpus", "heldout.jsonl")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "..", "tests", "data", "tiny1930", "heldout.txt")
    docs = [json.loads(l) for l in open(src, encoding="utf-8")]
    kjv = next(d["text"] for d in docs if d["src"] == "kjv")
    part = ""
    for line in kjv.split("\n"):
        if len(part) + len(line) > 1800:
            break
        part += line + "\n"
    out = [part.strip()]
    out.append(next(d["text"] for d in docs if d["src"] == "devil" and len(d["text"]) >= 120))
    web, n = [], 0
    for d in docs:
        if d["src"] == "webster":
            if n + len(d["text"]) > 1800:
                break
            web.append(d["text"])
            n += len(d["text"])
    out.append("\n\n".join(web))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n\n".join(out) + "\n")
    print("wrote", dst, sum(len(o) for o in out), "chars")


if __name__ == "__main__":
    main()
