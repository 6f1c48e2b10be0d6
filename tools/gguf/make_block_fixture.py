"""Writes a GGUF of random ggml blocks and gguf-py's own dequantization of
them, the oracle for talkie.cpp's row widening of the block types it computes
on in place (tests/model/gguf_quant_test.cpp):

    PYTHONPATH=<llama.cpp>/gguf-py python3 make_block_fixture.py OUT.gguf

For each of Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K: tensor `<TYPE>.blocks`
(that type, 5 rows of 3 blocks of random bytes, every f16 field replaced by a
finite half: normal values of both signs, zeros and subnormals) and
`<TYPE>.values` (F32 [5, 3 * block], gguf.quants.dequantize of the blocks).
Run by make_quant_fixtures.sh.
"""
import sys

import numpy as np
import gguf
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

# Byte offsets of each block's f16 fields (d, and m / dmin where present).
F16_FIELDS = {T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.IQ4_NL: [0],
              T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
ROWS, BLOCKS = 5, 3

rng = np.random.default_rng(20261204)
w = gguf.GGUFWriter(sys.argv[1], "ggml-blocks")
for qtype, fields in F16_FIELDS.items():
    elems, nbytes = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(ROWS * BLOCKS, nbytes), dtype=np.uint8)
    halves = (rng.standard_normal((ROWS * BLOCKS, len(fields))) * 0.02).astype(np.float16)
    halves[0, 0] = 0.0                      # a zero scale
    halves[1, :] = np.float16(3e-7)         # subnormal halves
    halves[2, -1] = -halves[2, -1]          # both signs
    for i, off in enumerate(fields):
        raw[:, off:off + 2] = halves[:, i:i + 1].view(np.uint8).reshape(-1, 2)
    blocks = raw.reshape(ROWS, BLOCKS * nbytes)
    values = gguf.quants.dequantize(blocks, qtype).astype(np.float32)
    assert values.shape == (ROWS, BLOCKS * elems)
    w.add_tensor(f"{qtype.name}.blocks", blocks, raw_dtype=qtype)
    w.add_tensor(f"{qtype.name}.values", np.ascontiguousarray(values))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(sys.argv[1])
