"""talkie: the talkie.cpp engine from Python, with Transformers-style calls.

    import talkie
    model = talkie.Model()                      # the bundled model; or Model("path")
    tok = talkie.Tokenizer(model)               # or Tokenizer("path or model dir")
    ids = tok.encode("And it came to pass")
    out = model([ids], output_hidden_states=True)
    out.logits                                  # np.float32 [1, S, vocab]
    new = model.generate([ids], max_new_tokens=20)   # [1, S + new]

Arrays are numpy; results come back without copies. The engine runs with the
GIL released. Bad input raises ValueError / TypeError / FileNotFoundError with
the engine's message. See docs/python.md.
"""

import os
import secrets
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _talkie

__version__ = _talkie.version()
TalkieError = _talkie.TalkieError
KVCache = _talkie.KVCache

__all__ = ["Model", "Tokenizer", "ModelOutput", "KVCache", "TalkieError", "Config",
           "default_model_path", "simd_target"]


def default_model_path() -> str:
    """$TALKIE_MODEL, else the bundled talkie-tiny-1930 installed with the engine."""
    return _talkie.default_model_path()


def simd_target() -> str:
    """The SIMD target the kernels use on this CPU."""
    return _talkie.simd_target()


class Config:
    """Model hyper-parameters as attributes (n_layer, n_head, n_embd, ...)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)
        # Transformers' names for the same numbers.
        self.num_hidden_layers = values["n_layer"]
        self.num_attention_heads = values["n_head"]
        self.hidden_size = values["n_embd"]

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


@dataclass
class ModelOutput:
    """What a forward call returns (Transformers' CausalLMOutputWithPast fields)."""

    logits: np.ndarray                                   # float32 [B, S, V]
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None  # L + 1 x [B, S, n_embd]
    attentions: Optional[Tuple[np.ndarray, ...]] = None     # L x [B, H, S, kv_len]
    past_key_values: Optional[KVCache] = None
    position_ids: Optional[np.ndarray] = None            # int64 [B, S], given or derived

    def __getitem__(self, key):
        return getattr(self, key)


def _as_2d(name, value, kinds, dtype):
    """A [B, S] array of `dtype` from an array or nested list ([S] becomes [1, S])."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{name}: not a rectangular array ({e})") from None
    if arr.dtype == object:
        raise ValueError(f"{name}: rows have different lengths (give a rectangular [B, S] array)")
    if arr.size and arr.dtype.kind not in kinds:
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [batch, length] (or [length]), got shape {arr.shape}")
    if arr.size and arr.dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi > info.max:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name}: value {int(bad)} is out of range")
    return np.ascontiguousarray(arr, dtype=dtype)


class Model:
    """A loaded Talkie model. Model() loads the bundled model.

    path: a model directory or checkpoint file in any layout the CLI loads.
    threads: kernel threads (0 = all cores); policy: "exact" or "fast".
    """

    def __init__(self, path: str = "", threads: int = 0, policy: str = "exact"):
        path = os.fspath(path)
        if path and not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file or directory")
        self._model = _talkie.Model(path, threads, policy)
        self.config = Config(self._model.config)
        self.info = self._model.info
        self.policy = policy

    def __repr__(self) -> str:
        return f"talkie.Model({self.info['path']!r}, {self.config.n_layer} layers, policy={self.policy!r})"

    def new_cache(self, batch: int = 1, capacity: int = 0) -> KVCache:
        """An empty KV cache for `batch` rows (capacity 0 = the context length)."""
        return self._model.new_cache(batch, capacity)

    def __call__(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None,
                 use_cache: bool = False, output_hidden_states: bool = False,
                 output_attentions: bool = False, logits_to_keep: int = 0,
                 num_logits_to_keep: int = 0, return_dict: bool = True, **unused) -> ModelOutput:
        """The forward pass with the seed's contract.

        input_ids [B, S]; attention_mask [B, kv_len] or [B, S] (1 = real token;
        left padding); position_ids [B, S] (derived from the mask when None);
        past_key_values: a KVCache from an earlier call with use_cache=True;
        logits_to_keep > 0 returns only the last k positions' logits.
        """
        for key in unused:
            if key not in ("return_dict", "cache_position"):
                raise TypeError(f"unexpected keyword argument '{key}'")
        ids = _as_2d("input_ids", input_ids, "iu", np.int32)
        mask = None if attention_mask is None else _as_2d("attention_mask", attention_mask, "iub", np.uint8)
        pos = None if position_ids is None else _as_2d("position_ids", position_ids, "iu", np.int64)
        if mask is not None and mask.size and mask.max() > 1:
            raise ValueError("attention_mask: values must be 0 or 1")
        cache = past_key_values
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError("past_key_values must be a talkie.KVCache from an earlier call")
        if cache is None and use_cache:
            cache = self._model.new_cache(ids.shape[0], 0)
        keep = logits_to_keep or num_logits_to_keep
        logits, hidden, attn, positions = self._model.forward(
            ids, mask, pos, cache, output_hidden_states, output_attentions, keep)
        out = ModelOutput(logits=logits, hidden_states=hidden, attentions=attn,
                          past_key_values=cache if (use_cache or past_key_values is not None) else None,
                          position_ids=positions)
        return out if return_dict else tuple(v for v in (out.logits, out.past_key_values,
                                                         out.hidden_states, out.attentions)
                                             if v is not None)

    forward = __call__

    def unembed(self, hidden, apply_final_norm: bool = True) -> np.ndarray:
        """The logit lens: final rms-norm (optional) + lm_head on [..., n_embd] vectors."""
        return self._model.unembed(np.asarray(hidden, dtype=np.float32), apply_final_norm)

    def score(self, ids, window: int = 0, stride: int = 0):
        """(token_logprobs [n - 1], mean NLL, perplexity) of a token sequence."""
        ids = _as_2d("ids", ids, "iu", np.int32)
        if ids.shape[0] != 1:
            raise ValueError("score takes one sequence")
        return self._model.score(ids[0].tolist(), window, stride)

    def generate(self, input_ids, attention_mask=None, max_new_tokens: int = 20,
                 do_sample: bool = False, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, min_p: float = 0.0, repetition_penalty: float = 1.0,
                 seed: Optional[int] = None, stop_strings=None, streamer=None,
                 ignore_eos: bool = False, tokenizer=None, pad_token_id: Optional[int] = None,
                 **unused) -> np.ndarray:
        """Continues each row (HF convention): returns [B, S + new] int64 ids,
        the prompt as given (padding included) followed by the new tokens,
        right-padded with pad_token_id (default: the end-of-text id) where a
        row stopped early. Left-padded rows are generated without their pads.

        do_sample=False is greedy; seed=None draws a random seed. streamer:
        a callable(text) (or an object with .put(text) / .end()) receiving row
        0's text as it becomes final.
        """
        for key in unused:
            if key not in ("use_cache", "return_dict_in_generate", "output_scores",
                           "eos_token_id", "generation_config"):
                raise TypeError(f"unexpected keyword argument '{key}'")
        ids = _as_2d("input_ids", input_ids, "iu", np.int32)
        if attention_mask is not None:
            mask = _as_2d("attention_mask", attention_mask, "iub", np.uint8)
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask shape {mask.shape} != input_ids shape {ids.shape}")
        else:
            mask = np.ones_like(ids, dtype=np.uint8)
        prompts = [row[m.astype(bool)].tolist() for row, m in zip(ids, mask)]
        tok = tokenizer._tok if isinstance(tokenizer, Tokenizer) else self._default_tokenizer()
        if tok is None and streamer is not None:
            raise ValueError("streamer needs a tokenizer: this model has none (pass tokenizer=)")
        if seed is None:
            seed = secrets.randbits(63)
        if not 0 <= seed < 2 ** 64:
            raise ValueError(f"seed must be in [0, 2^64), got {seed}")
        on_text = None
        if streamer is not None:
            put = streamer.put if hasattr(streamer, "put") else streamer

            def on_text(index, piece):
                if index == 0:
                    put(piece.decode("utf-8", errors="replace"))
        results = _talkie.generate(
            self._model, tok, prompts, int(max_new_tokens),
            float(temperature) if do_sample else 0.0, int(top_k), float(top_p), float(min_p),
            float(repetition_penalty), int(seed), list(stop_strings or []), bool(ignore_eos),
            on_text)
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
        if pad_token_id is None:
            eos = self.config.eos_token_id
            pad_token_id = tok.stop_token_ids[0] if tok is not None else (eos if eos >= 0 else 0)
        longest = max(len(r[0]) for r in results)
        out = np.full((ids.shape[0], ids.shape[1] + longest), pad_token_id, dtype=np.int64)
        out[:, : ids.shape[1]] = ids
        for i, (new, _, _) in enumerate(results):
            out[i, ids.shape[1]: ids.shape[1] + len(new)] = new
        return out

    def _default_tokenizer(self, required: bool = False):
        """The tokenizer beside the checkpoint; None when there is none (ids-only use)."""
        if not hasattr(self, "_tok"):
            try:
                self._tok = _talkie.Tokenizer.for_model(self._model)
            except TalkieError as e:
                self._tok, self._tok_error = None, str(e)
        if self._tok is None and required:
            raise ValueError(self._tok_error)
        return self._tok


class Tokenizer:
    """Talkie's BPE tokenizer: Tokenizer(model) or Tokenizer("vocab.txt / tokenizer.json / dir")."""

    def __init__(self, source=""):
        if isinstance(source, Model):
            self._tok = source._default_tokenizer(required=True)
        else:
            path = os.fspath(source) or default_model_path()
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path}: no such tokenizer file or model directory")
            self._tok = _talkie.Tokenizer(path)
        self.special_tokens = dict(self._tok.special_tokens)
        self.eos_token_id = self._tok.stop_token_ids[0]
        self.vocab_size = self._tok.vocab_size
        self.is_chat = self._tok.is_chat

    def encode(self, text: str, allow_special: bool = False):
        """Token ids of `text` (special-token strings become ids only with allow_special)."""
        return self._tok.encode(text, allow_special)

    def decode(self, ids, skip_special_tokens: bool = False, errors: str = "replace") -> str:
        """The text of `ids` (invalid UTF-8 from a cut character replaced by default)."""
        ids = np.asarray(ids).reshape(-1).tolist()
        if skip_special_tokens:
            specials = set(self.special_tokens.values())
            ids = [i for i in ids if i not in specials]
        return self._tok.decode_bytes(ids).decode("utf-8", errors=errors)

    def apply_chat_template(self, messages, tokenize: bool = True, add_generation_prompt: bool = True,
                            **unused):
        """The IT chat template; messages are dicts with "role" and "content"."""
        pairs = []
        for i, m in enumerate(messages):
            content = m.get("content")
            if not isinstance(content, str):
                raise ValueError(f"messages[{i}].content must be a string")
            pairs.append((m.get("role", ""), content))
        if tokenize:
            return self._tok.encode_chat(pairs, add_generation_prompt)
        return self._tok.render_chat(pairs, add_generation_prompt)
