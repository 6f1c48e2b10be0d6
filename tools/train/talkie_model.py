"""The exact Talkie architecture (see shared talkie-spec.md section 2) in PyTorch, plus
minimal safetensors I/O.  Runs on Debian's torch 1.13 (CPU) and on torch 2.x (CUDA).

Module/parameter names follow the Talkie checkpoint; `hf_state_dict` adds the
Hugging Face "model." prefix for embed/blocks.
"""
import ctypes
import ctypes.util
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 2.0 ** -23


def rms(x):
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)


def f32_to_bf16_rne(a):
    """numpy float32 -> uint16 bf16 bits, round to nearest even (no NaNs expected)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


_libm = None


def rope_tables(head_dim, n_pos, base=1000000.0):
    """cos/sin [n_pos, head_dim/2] as float32 tensors holding bf16-rounded values.
    Computed with the C library's powf/cosf/sinf in float (bit-exact with the reference)."""
    global _libm
    if _libm is None:
        _libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        for fn in ("powf", "cosf", "sinf"):
            getattr(_libm, fn).restype = ctypes.c_float
        _libm.powf.argtypes = [ctypes.c_float, ctypes.c_float]
        _libm.cosf.argtypes = [ctypes.c_float]
        _libm.sinf.argtypes = [ctypes.c_float]
    d = head_dim // 2
    inv = np.array([np.float32(1.0) / np.float32(_libm.powf(np.float32(base), np.float32(2 * j) / np.float32(head_dim)))
                    for j in range(d)], dtype=np.float32)
    ang = (np.arange(n_pos, dtype=np.float32)[:, None] * inv[None, :]).astype(np.float32)
    flat = ang.ravel().tolist()
    c = np.array([_libm.cosf(v) for v in flat], dtype=np.float32).reshape(n_pos, d)
    s = np.array([_libm.sinf(v) for v in flat], dtype=np.float32).reshape(n_pos, d)
    c = bf16_bits_to_f32(f32_to_bf16_rne(c))
    s = bf16_bits_to_f32(f32_to_bf16_rne(s))
    return torch.from_numpy(c.copy()), torch.from_numpy(s.copy())


def rope(x, cos, sin):
    """x [B, S, H, D] float32; cos/sin [S, D/2]. Half-split, rotation by -theta."""
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    return torch.cat([x1 * c + x2 * s, -x1 * s + x2 * c], dim=-1)


class ScalarGain(nn.Module):
    def __init__(self, name, shape, init):
        super().__init__()
        setattr(self, name, nn.Parameter(torch.full(shape, float(init))))
        self._n = name

    def forward(self):
        return getattr(self, self._n)


class Attn(nn.Module):
    def __init__(self, n_embd, n_head, head_dim):
        super().__init__()
        self.n_head, self.head_dim = n_head, head_dim
        inner = n_head * head_dim
        self.attn_query = nn.Linear(n_embd, inner, bias=False)
        self.attn_key = nn.Linear(n_embd, inner, bias=False)
        self.attn_value = nn.Linear(n_embd, inner, bias=False)
        self.attn_resid = nn.Linear(inner, n_embd, bias=False)
        self.head_gain = ScalarGain("head_g", (n_head,), 1.0)

    def forward(self, h, cos, sin, fast):
        B, S, _ = h.shape
        H, D = self.n_head, self.head_dim
        q = self.attn_query(h).float().view(B, S, H, D)
        k = self.attn_key(h).float().view(B, S, H, D)
        v = self.attn_value(h).view(B, S, H, D)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        q, k = rms(q), rms(k)
        q = q * self.head_gain.head_g.float()[None, None, :, None]
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if fast and hasattr(F, "scaled_dot_product_attention"):
            dt = v.dtype if v.dtype != torch.float32 else q.dtype
            y = F.scaled_dot_product_attention(q.to(dt), k.to(dt), v.to(dt), is_causal=True)
        else:
            v = v.float()
            scale = torch.tensor(1.0 / math.sqrt(D), dtype=torch.float32)
            sc = torch.matmul(q, k.transpose(-1, -2)) * scale
            mask = torch.ones(S, S, dtype=torch.bool, device=h.device).triu(1)
            sc = sc.masked_fill(mask, float("-inf"))
            p = torch.softmax(sc, dim=-1)
            y = torch.matmul(p, v)
        y = y.transpose(1, 2).reshape(B, S, H * D)
        return self.attn_resid(y)


class MLP(nn.Module):
    def __init__(self, n_embd, hidden):
        super().__init__()
        self.mlp_gate = nn.Linear(n_embd, hidden, bias=False)
        self.mlp_linear = nn.Linear(n_embd, hidden, bias=False)
        self.mlp_resid = nn.Linear(hidden, n_embd, bias=False)

    def forward(self, h):
        return self.mlp_resid(F.silu(self.mlp_gate(h)) * self.mlp_linear(h))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, head_dim, hidden, n_layer):
        super().__init__()
        g = (2 * n_layer) ** -0.5
        self.attn = Attn(n_embd, n_head, head_dim)
        self.attn_gain = ScalarGain("a_g", (1,), g)
        self.mlp = MLP(n_embd, hidden)
        self.mlp_gain = ScalarGain("a_g", (1,), g)
        self.embed_skip = ScalarGain("a_g", (1,), 0.1)

    def forward(self, x, e, cos, sin, fast):
        x = x + self.attn_gain.a_g.float() * self.attn(rms(x), cos, sin, fast).float()
        x = x + self.mlp_gain.a_g.float() * self.mlp(rms(x)).float()
        x = x + self.embed_skip.a_g.float() * e
        return x


def mlp_width(n_embd):
    return int(round(8 / 3 * n_embd / 128)) * 128


class Talkie(nn.Module):
    def __init__(self, vocab_size, n_embd=256, n_layer=6, n_head=4, head_dim=64, max_pos=2048):
        super().__init__()
        self.cfg = dict(vocab_size=vocab_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                        head_dim=head_dim, max_pos=max_pos)
        hidden = mlp_width(n_embd)
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, head_dim, hidden, n_layer) for _ in range(n_layer)])
        self.lm_head = nn.Parameter(torch.empty(vocab_size, n_embd))
        self.lm_head_gain = ScalarGain("w_g", (1,), 1.0)
        cos, sin = rope_tables(head_dim, max_pos)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.embed.weight, std=1.0)
        nn.init.normal_(self.lm_head, std=self.cfg["n_embd"] ** -0.5)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features ** -0.5)

    def forward(self, ids, fast=False):
        """ids [B, S] -> logits [B, S, vocab] float32.  fast=True: SDPA (training)."""
        S = ids.shape[1]
        cos, sin = self.cos[:S], self.sin[:S]
        x = rms(self.embed(ids))
        e = x
        for blk in self.blocks:
            x = blk(x, e, cos, sin, fast)
        x = rms(x)
        w = self.lm_head * self.lm_head_gain.w_g
        if x.is_cuda and torch.is_autocast_enabled():
            return F.linear(x, w).float()
        return F.linear(x, w.float())

    # --------------------------------------------------------------- export / import
    def hf_state_dict(self):
        out = {}
        for k, v in self.state_dict().items():
            if k in ("cos", "sin"):
                continue
            name = k if k.startswith("lm_head") else "model." + k
            out[name] = v.detach().float().cpu()
        return out

    def load_hf_state_dict(self, sd):
        own = {}
        for k, v in sd.items():
            own[k[len("model."):] if k.startswith("model.") else k] = v
        missing, unexpected = self.load_state_dict(own, strict=False)
        missing = [m for m in missing if m not in ("cos", "sin")]
        assert not missing and not unexpected, (missing, unexpected)

    def hf_config(self, eos_token_id):
        c = self.cfg
        return {"architectures": ["TalkieForCausalLM"], "model_type": "talkie",
                "vocab_size": c["vocab_size"], "hidden_size": c["n_embd"],
                "num_hidden_layers": c["n_layer"], "num_attention_heads": c["n_head"],
                "head_dim": c["head_dim"], "intermediate_size": mlp_width(c["n_embd"]),
                "max_position_embeddings": c["max_pos"], "rope_theta": 1000000.0,
                "eos_token_id": eos_token_id, "torch_dtype": "bfloat16"}


def model_from_config(cfg):
    return Talkie(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg["head_dim"], cfg.get("max_position_embeddings", 2048))


# ------------------------------------------------------------------- safetensors
_DT = {"BF16": (np.uint16, 2), "F32": (np.float32, 4), "I64": (np.int64, 8), "F16": (np.float16, 2),
       "I32": (np.int32, 4)}


def read_safetensors(path):
    """-> dict name -> float32/int64 torch tensor (BF16 widened exactly to float32)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        dt, _ = _DT[v["dtype"]]
        s, e = v["data_offsets"]
        a = np.frombuffer(b[base + s:base + e], dtype=dt).reshape(v["shape"])
        if v["dtype"] == "BF16":
            a = bf16_bits_to_f32(a)
        out[k] = torch.from_numpy(np.array(a))
    return out


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype string, numpy array already in that dtype's storage)."""
    hdr, blobs, off = {}, [], 0
    if metadata:
        hdr["__metadata__"] = metadata
    for k in sorted(tensors):
        dt, a = tensors[k]
        raw = np.ascontiguousarray(a).tobytes()
        hdr[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for r in blobs:
            f.write(r)


def save_bf16_model(model, path):
    t = {k: ("BF16", f32_to_bf16_rne(v.numpy())) for k, v in model.hf_state_dict().items()}
    write_safetensors(path, t, {"format": "pt"})


def load_model_dir(model_dir):
    with open(model_dir + "/config.json") as f:
        cfg = json.load(f)
    m = model_from_config(cfg)
    m.load_hf_state_dict(read_safetensors(model_dir + "/model.safetensors"))
    m.eval()
    return m, cfg
