#!/usr/bin/env bash
# Regenerates tests/data/gguf/export/: llama.cpp's logits for the `small`
# fixture model written by `talkie quantize --out FILE.gguf` as BF16 and Q8_0,
# on the reference's 17-token case (GgufExportTest.LlamaCppRunsTheExportedFiles).
#   tools/gguf/make_export_fixtures.sh WORK_DIR
# WORK_DIR is a folder tools/gguf/make_quant_fixtures.sh WORK_DIR has built
# llama.cpp's llama_logits in; build/talkie must be built.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(cd "$1" && pwd)"
[ -x "$work/llama_logits" ] || { echo "no $work/llama_logits: run make_quant_fixtures.sh $1 first"; exit 2; }
ids="$(/usr/bin/python3 -c '
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["input_ids"]
lo, hi = t["data_offsets"]
print(",".join(str(int(i)) for i in np.frombuffer(b[8 + n + lo:8 + n + hi], dtype=np.int64)))
' tests/data/model/expected/small/len17.safetensors)"
out=tests/data/gguf/export
mkdir -p "$out"
for t in bf16 q8; do
  build/talkie quantize -m tests/data/model/models/small --type "$t" --out "$work/small-$t.gguf" --force
  "$work/llama_logits" "$work/small-$t.gguf" "$ids" "$out/small-$t.llama-logits.safetensors"
done
echo "$out regenerated"
