"""Writes GGUF copies of a fixture model the way llama.cpp's converter does
(its TalkieModel class, conversion/talkie.py), with llama.cpp's own gguf-py
package for the file format and the Q8_0 / Q4_0 quantizers.

    PYTHONPATH=<llama.cpp>/gguf-py python3 make_fixtures.py MODEL_DIR OUT_DIR [TYPES]

TYPES: comma-separated, of f32, bf16, q8_0, q4_0 (default: all four).

The converter needs torch; this script applies the same transformations with
numpy: the second half of every q / k head's rows negated (absorbing Talkie's
inverted RoPE), head_gain as [n_head, 1] (attn_q_norm), attn_gain / mlp_gain as
attn_output.scale / ffn_down.scale, embed_skip as layer_output_scale, and
lm_head_gain as the talkie.logit_scale metadata. Run by make_fixtures.sh and
make_quant_fixtures.sh. The files carry no tokenizer: tokenizer.ggml.model
"none" and talkie.vocab_size let llama.cpp itself load them (it then makes
vocab_size dummy tokens and runs on token ids).
"""
import json
import os
import struct
import sys

import numpy as np
import gguf

model_dir, out_dir = sys.argv[1], sys.argv[2]
out_types = sys.argv[3].split(",") if len(sys.argv) > 3 else ["f32", "bf16", "q8_0", "q4_0"]
name = os.path.basename(os.path.normpath(model_dir))


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for key, t in header.items():
        if key == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = blob[8 + n + a: 8 + n + b]
        if t["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            out[key] = bits.view(np.float32).reshape(t["shape"])
        elif t["dtype"] == "F32":
            out[key] = np.frombuffer(raw, dtype=np.float32).reshape(t["shape"])
        else:
            raise SystemExit(f"{key}: dtype {t['dtype']} not handled")
    return out


def to_bf16_bits(x):
    # The fixture weights are bf16 already: the top 16 bits hold them exactly.
    return (np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


hp = json.load(open(os.path.join(model_dir, "config.json")))
single = os.path.join(model_dir, "model.safetensors")
if os.path.exists(single):
    weights = read_safetensors(single)
else:  # sharded: model.safetensors.index.json names the shards
    index = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        weights.update(read_safetensors(os.path.join(model_dir, shard)))
head_dim = hp["head_dim"]
n_layer = hp["num_hidden_layers"]

# Hugging Face names -> GGUF names, transformed as TalkieModel.modify_tensors does.
tensors, logit_scale = [], None
for key, value in weights.items():
    k = key.removeprefix("model.")
    if k == "lm_head_gain.w_g":
        logit_scale = float(value.reshape(-1)[0])
        continue
    if k == "embed.weight":
        tensors.append(("token_embd.weight", value, True))
        continue
    if k == "lm_head":
        tensors.append(("output.weight", value, True))
        continue
    _, bid, rest = k.split(".", 2)
    blk = f"blk.{bid}."
    if rest in ("attn.attn_query.weight", "attn.attn_key.weight"):
        v = value.reshape(-1, head_dim, value.shape[-1]).copy()
        v[:, head_dim // 2:, :] *= -1
        value = v.reshape(value.shape)
    mapping = {
        "attn.attn_query.weight": ("attn_q.weight", True),
        "attn.attn_key.weight": ("attn_k.weight", True),
        "attn.attn_value.weight": ("attn_v.weight", True),
        "attn.attn_resid.weight": ("attn_output.weight", True),
        "mlp.mlp_gate.weight": ("ffn_gate.weight", True),
        "mlp.mlp_linear.weight": ("ffn_up.weight", True),
        "mlp.mlp_resid.weight": ("ffn_down.weight", True),
        "attn.head_gain.head_g": ("attn_q_norm.weight", False),
        "attn_gain.a_g": ("attn_output.scale", False),
        "mlp_gain.a_g": ("ffn_down.scale", False),
        "embed_skip.a_g": ("layer_output_scale.weight", False),
    }
    gname, is_matrix = mapping[rest]
    if rest == "attn.head_gain.head_g":
        value = value[:, None]  # [n_head, 1], as the converter's unsqueeze(-1)
    tensors.append((blk + gname, value, is_matrix))

for outtype in out_types:
    path = os.path.join(out_dir, f"{name}-{outtype}.gguf")
    w = gguf.GGUFWriter(path, "talkie")
    w.add_name(name)
    w.add_block_count(n_layer)
    w.add_context_length(hp["max_position_embeddings"])
    w.add_embedding_length(hp["hidden_size"])
    w.add_feed_forward_length(hp["intermediate_size"])
    w.add_head_count(hp["num_attention_heads"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(hp["rope_theta"])
    w.add_layer_norm_rms_eps(float(np.finfo(np.float32).eps))
    if logit_scale is not None:
        w.add_logit_scale(logit_scale)
    w.add_tokenizer_model("none")
    w.add_vocab_size(hp["vocab_size"])
    if "eos_token_id" in hp:
        w.add_eos_token_id(hp["eos_token_id"])
    for gname, value, is_matrix in tensors:
        value = np.ascontiguousarray(value, dtype=np.float32)
        if not is_matrix or outtype == "f32":
            w.add_tensor(gname, value)
        elif outtype == "bf16":
            w.add_tensor(gname, to_bf16_bits(value), raw_shape=value.shape,
                         raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}[outtype]
            w.add_tensor(gname, gguf.quants.quantize(value, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(path, os.path.getsize(path))
