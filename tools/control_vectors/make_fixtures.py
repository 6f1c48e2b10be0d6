"""Writes the control-vector fixtures of tests/data/control_vectors/ for the
`tiny` fixture model (n_embd 96, 3 blocks): a GGUF file written with llama.cpp's
own gguf-py (architecture "controlvector", F32 tensors direction.N, the
controlvector.* keys its cvector-generator writes), the same vectors as
safetensors in F32 and BF16, and one direction for ablation.

    PYTHONPATH=<llama.cpp>/gguf-py python3 make_fixtures.py OUT_DIR

Run by make_fixtures.sh.
"""
import json
import os
import struct
import sys

import numpy as np
import gguf

out_dir = sys.argv[1]
n_embd, layers = 96, [1, 2]
rng = np.random.default_rng(1930)
vectors = {f"direction.{l}": rng.standard_normal(n_embd).astype(np.float32) * 0.5 for l in layers}

w = gguf.GGUFWriter(os.path.join(out_dir, "tiny-cvec.gguf"), "controlvector")
w.add_string("controlvector.model_hint", "talkie")
w.add_int32("controlvector.layer_count", len(layers))
for name, v in vectors.items():
    w.add_tensor(name, v)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def bf16_bytes(v):  # round to nearest even
    bits = v.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype(np.uint16).tobytes()


write_safetensors(os.path.join(out_dir, "tiny-cvec.safetensors"),
                  {n: ("F32", [n_embd], v.tobytes()) for n, v in vectors.items()})
write_safetensors(os.path.join(out_dir, "tiny-cvec-bf16.safetensors"),
                  {n: ("BF16", [n_embd], bf16_bytes(v)) for n, v in vectors.items()})
direction = rng.standard_normal(n_embd).astype(np.float32)
write_safetensors(os.path.join(out_dir, "tiny-direction.safetensors"),
                  {"direction": ("F32", [n_embd], direction.tobytes())})
