"""Development oracle: llama.cpp's own tokenizer (llama-tokenize, built from the
llama.cpp source of node-llama-cpp, see make_quant_fixtures.sh) on a GGUF file
`talkie quantize --out FILE.gguf` wrote, against the real tiktoken's ids for
every case of tests/data/tokenizer/cases.jsonl.

    /usr/bin/python3 tools/gguf/check_llama_tokenizer.py LLAMA_TOKENIZE FILE.gguf ids_base|ids_it

Special tokens are not parsed (llama.cpp's --no-parse-special), so the cases
that hold special-token text are expected to differ; every other mismatch is
listed.
"""
import json
import os
import subprocess
import sys

tool, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
cases = os.path.join(os.path.dirname(__file__), "../../tests/data/tokenizer/cases.jsonl")
specials = ("<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>")
equal = special = 0
other = []
for line in open(cases, encoding="utf-8"):
    c = json.loads(line)
    r = subprocess.run([tool, "-m", model, "--stdin", "--ids", "--no-bos", "--no-parse-special",
                        "--no-escape", "--log-disable"],
                       input=c["text"].encode("utf-8", "surrogatepass"), capture_output=True)
    lines = r.stdout.decode().strip().splitlines()
    ids = json.loads(lines[-1]) if lines else None
    if ids == c[key]:
        equal += 1
    elif any(s in c["text"] for s in specials):
        special += 1
    else:
        other.append(c["text"])
print(f"{equal} equal, {special} differ with special-token text, {len(other)} other")
for t in other:
    print("  differs:", repr(t[:80]))
