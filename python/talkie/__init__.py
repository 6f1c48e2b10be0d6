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
from collections import namedtuple
import secrets
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _talkie

__version__ = _talkie.version()
TalkieError = _talkie.TalkieError
KVCache = _talkie.KVCache

__all__ = ["Model", "Tokenizer", "ModelOutput", "KVCache", "TalkieError", "Config",
           "AutoModelForCausalLM", "AutoTokenizer", "BatchEncoding",
           "Hooks", "HookEvent", "default_model_path", "simd_target"]


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
    loss: Optional[float] = None                         # with labels=: mean next-token CE
    hidden_states: Optional[Tuple[np.ndarray, ...]] = None  # L + 1 x [B, S, n_embd]
    attentions: Optional[Tuple[np.ndarray, ...]] = None     # L x [B, H, S, kv_len]
    past_key_values: Optional[KVCache] = None
    position_ids: Optional[np.ndarray] = None            # int64 [B, S], given or derived
    captured: Optional[dict] = None                      # hook name -> [B, ...] (capture=)

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


def _causal_lm_loss(logits, labels) -> float:
    """Transformers' causal-LM loss: labels shifted left by one, -100 ignored,
    the mean negative log-likelihood over the rest (computed in float64)."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        labels = labels[None, :]
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels shape {labels.shape} != input_ids shape {logits.shape[:2]}")
    target = labels[:, 1:].reshape(-1)
    scores = logits[:, :-1].reshape(-1, logits.shape[-1])
    keep = target != -100
    if not keep.any():
        return float("nan")
    target, scores = target[keep], scores[keep].astype(np.float64)
    if target.min() < 0 or target.max() >= logits.shape[-1]:
        raise ValueError("labels: ids must be in [0, vocab) or -100")
    m = scores.max(axis=1, keepdims=True)
    logz = (m + np.log(np.exp(scores - m).sum(axis=1, keepdims=True)))[:, 0]
    return float((logz - scores[np.arange(len(target)), target]).mean())


HookEvent = namedtuple("HookEvent", "name layer sequence slots positions")


class Hooks:
    """Hook points to read or patch during a forward or generation.

    Names as TransformerLens: "hook_embed", "blocks.3.hook_resid_post",
    "blocks.*.attn.hook_pattern" (every block), "ln_final.hook_normalized",
    "logits" (docs/interpretability.md lists all with their shapes).
    A hook is fn(activation, event): activation is a writable float32 view of
    one sequence's rows of this step ([rows, width]; q/k/v/z [rows, heads,
    head_dim]; hook_pattern [heads, q_rows, kv_len]), valid during the call
    only (copy it to keep it); event is a HookEvent (name, layer, sequence,
    slots, positions). Change it in place or return a replacement array.
    """

    def __init__(self):
        self._hooks = _talkie.Hooks()

    def add(self, name: str, fn, read_only: bool = False) -> "Hooks":
        self._hooks.add(name, lambda x, e: fn(x, HookEvent(*e)), read_only)
        return self

    def add_vector(self, name: str, vector, scale: float = 1.0) -> "Hooks":
        """Steering: adds scale * vector to every row at `name`."""
        self._hooks.add_vector(name, np.asarray(vector, dtype=np.float32).ravel().tolist(), scale)
        return self

    def project_out(self, name: str, direction) -> "Hooks":
        """Directional ablation: removes the component along `direction`."""
        self._hooks.project_out(name, np.asarray(direction, dtype=np.float32).ravel().tolist())
        return self

    def add_control_vector(self, path, scale: float = 1.0, layers=None) -> "Hooks":
        """Steering from a file (llama.cpp control-vector GGUF or safetensors):
        direction.N times scale is added to block N's output, for blocks in
        layers = (first, last) inclusive (default: all)."""
        first, last = (-1, -1) if layers is None else layers
        self._hooks.add_control_vector(os.fspath(path), scale, first, last)
        return self

    def ablate_direction(self, direction) -> "Hooks":
        """Projects `direction` out of the residual stream at every layer."""
        self._hooks.ablate_direction(np.asarray(direction, dtype=np.float32).ravel().tolist())
        return self

    def __len__(self):
        return 0 if self._hooks.empty() else 1

    def __bool__(self):
        return not self._hooks.empty()


def _as_hooks(hooks):
    """None, a Hooks, or a list of (name, fn) pairs / a {name: fn} dict."""
    if hooks is None or isinstance(hooks, Hooks):
        return hooks
    pairs = hooks.items() if isinstance(hooks, dict) else hooks
    out = Hooks()
    for name, fn in pairs:
        out.add(name, fn)
    return out


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

    def __call__(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                 use_cache: bool = False, output_hidden_states: bool = False,
                 output_attentions: bool = False, logits_to_keep: int = 0,
                 num_logits_to_keep: int = 0, return_dict: bool = True, labels=None,
                 inputs_embeds=None, hooks=None, capture=None, **unused) -> ModelOutput:
        """The forward pass with the seed's contract.

        input_ids [B, S]; attention_mask [B, kv_len] or [B, S] (1 = real token;
        left padding); position_ids [B, S] (derived from the mask when None);
        past_key_values: a KVCache from an earlier call with use_cache=True;
        logits_to_keep > 0 returns only the last k positions' logits;
        labels [B, S] adds `loss`: the mean cross-entropy of labels[:, 1:]
        against logits[:, :-1], positions labelled -100 ignored (Transformers).
        hooks: a Hooks (or [(name, fn)] / {name: fn}) run during the pass;
        capture: hook names whose values come back in `captured` as [B, ...].
        """
        for key in unused:
            if key not in ("return_dict", "cache_position"):
                raise TypeError(f"unexpected keyword argument '{key}'")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        embeds = None
        if inputs_embeds is not None:
            embeds = np.ascontiguousarray(inputs_embeds, dtype=np.float32)
            if embeds.ndim == 2:
                embeds = embeds[None]
            if embeds.ndim != 3 or embeds.shape[2] != self.config.n_embd:
                raise ValueError(f"inputs_embeds must be [batch, length, n_embd={self.config.n_embd}], "
                                 f"got shape {embeds.shape}")
            ids = np.zeros(embeds.shape[:2], dtype=np.int32)  # shapes only
        else:
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
        if labels is not None and keep:
            raise ValueError("labels needs the logits of every position (drop logits_to_keep)")
        hooks = _as_hooks(hooks)
        if isinstance(capture, str):
            capture = [capture]
        logits, hidden, attn, positions, captured = self._model.forward(
            None if embeds is not None else ids, mask, pos, cache, output_hidden_states,
            output_attentions, keep, embeds, hooks._hooks if hooks else None, list(capture or []))
        loss = None if labels is None else _causal_lm_loss(logits, labels)
        out = ModelOutput(logits=logits, loss=loss, hidden_states=hidden, attentions=attn,
                          past_key_values=cache if (use_cache or past_key_values is not None) else None,
                          position_ids=positions, captured=captured if capture else None)
        return out if return_dict else tuple(v for v in (out.loss, out.logits, out.past_key_values,
                                                         out.hidden_states, out.attentions)
                                             if v is not None)

    forward = __call__

    def run_with_hooks(self, input_ids, fwd_hooks=(), **kwargs) -> ModelOutput:
        """TransformerLens style: fwd_hooks = [(name, fn(activation, event))]."""
        return self(input_ids, hooks=_as_hooks(list(fwd_hooks)), **kwargs)

    def run_with_cache(self, input_ids, names_filter=None, **kwargs):
        """TransformerLens style: (logits, {hook name: activation [B, ...]}).
        names_filter: a name, a list of names, or a predicate on names
        (default: every hook point but the attention patterns)."""
        names = self.hook_names()
        if names_filter is None:
            wanted = [n for n in names if not n.endswith("hook_pattern")]
        elif isinstance(names_filter, str):
            wanted = [names_filter]
        elif callable(names_filter):
            wanted = [n for n in names if names_filter(n)]
        else:
            wanted = list(names_filter)
        out = self(input_ids, capture=wanted, **kwargs)
        return out.logits, out.captured

    def hook_names(self):
        """Every hook point of this model, in forward order."""
        return _talkie.hook_names(self.config.n_layer)

    # Transformers habits that mean nothing on a CPU engine.
    device = "cpu"

    def to(self, *args, **kwargs):
        return self

    def eval(self):
        return self

    @classmethod
    def from_pretrained(cls, path="", *, dtype=None, torch_dtype=None, device_map=None,
                        trust_remote_code=None, threads: int = 0, policy: str = "exact", **unused):
        """Transformers-style loading. dtype / torch_dtype: the weights run in
        their stored precision (bf16 releases stay bf16; "float32" is accepted
        too); device_map and trust_remote_code are accepted and ignored (CPU,
        no remote code). Unknown keywords are a TypeError."""
        for key in unused:
            if key not in ("low_cpu_mem_usage", "revision", "attn_implementation", "use_safetensors"):
                raise TypeError(f"from_pretrained: unexpected keyword argument '{key}'")
        for d in (dtype, torch_dtype):
            name = str(d).replace("torch.", "") if d is not None else "auto"
            if name not in ("auto", "bfloat16", "float32", "float16"):
                raise ValueError(f"from_pretrained: unsupported dtype {d!r}")
        if device_map not in (None, "cpu", "auto") and str(device_map) != "cpu":
            raise ValueError(f"from_pretrained: device_map={device_map!r}: talkie.cpp runs on the CPU")
        return cls(path, threads=threads, policy=policy)

    def get_input_embeddings(self):
        """Transformers-style: a callable mapping ids to their embedding rows."""
        return lambda ids: self._model.embed(np.asarray(ids, dtype=np.int64))

    def embed(self, ids) -> np.ndarray:
        """The embedding rows of `ids` ([..] -> [.., n_embd]); what inputs_embeds replaces."""
        ids = np.asarray(ids)
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() > 2 ** 31 - 1):
            raise ValueError("embed: ids must be token ids")
        return self._model.embed(ids.astype(np.int64))

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
                 hooks=None, **unused) -> np.ndarray:
        """Continues each row (HF convention): returns [B, S + new] int64 ids,
        the prompt as given (padding included) followed by the new tokens,
        right-padded with pad_token_id (default: the end-of-text id) where a
        row stopped early. Left-padded rows are generated without their pads.

        do_sample=False is greedy; seed=None draws a random seed. streamer:
        a callable(text) (or an object with .put(text) / .end()) receiving row
        0's text as it becomes final. hooks: run on every step of every row
        (steering); event.sequence is the row.
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
        hooks = _as_hooks(hooks)
        results = _talkie.generate(
            self._model, tok, prompts, int(max_new_tokens),
            float(temperature) if do_sample else 0.0, int(top_k), float(top_p), float(min_p),
            float(repetition_penalty), int(seed), list(stop_strings or []), bool(ignore_eos),
            on_text, hooks._hooks if hooks else None)
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

    @classmethod
    def from_pretrained(cls, path="", **unused):
        """Transformers-style: the tokenizer of a model directory (or file)."""
        return cls(path)

    def __call__(self, text, padding=False, padding_side: str = "left", return_tensors=None,
                 add_special_tokens: bool = True, truncation=False, max_length=None, **unused):
        """Encodes a string or a list of strings as Transformers tokenizers do:
        special-token text (<|user|>, ...) becomes its ids; with several
        strings, padding (True / "longest") pads to the longest, on the left by
        default (what generation wants), with the end-of-text id and mask 0.
        return_tensors: None (lists), "np", or "pt" (when torch is installed)."""
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        ids = [self._tok.encode(t, True) for t in texts]
        if truncation and max_length:
            ids = [x[-max_length:] if padding_side == "left" else x[:max_length] for x in ids]
        masks = [[1] * len(x) for x in ids]
        lengths = {len(x) for x in ids}
        if padding in (True, "longest", "max_length") and len(lengths) > 1 or padding == "max_length":
            width = max_length if padding == "max_length" and max_length else max(lengths)
            if padding_side not in ("left", "right"):
                raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
            for i, x in enumerate(ids):
                pad = width - len(x)
                if padding_side == "left":
                    ids[i], masks[i] = [self.eos_token_id] * pad + x, [0] * pad + masks[i]
                else:
                    ids[i], masks[i] = x + [self.eos_token_id] * pad, masks[i] + [0] * pad
        elif return_tensors is not None and len(lengths) > 1:
            raise ValueError("strings of different lengths need padding=True for return_tensors")
        if return_tensors is None:
            data = {"input_ids": ids[0] if single else ids,
                    "attention_mask": masks[0] if single else masks}
        elif return_tensors == "np":
            data = {"input_ids": np.array(ids, dtype=np.int64),
                    "attention_mask": np.array(masks, dtype=np.int64)}
        elif return_tensors == "pt":
            import torch  # only when asked for
            data = {"input_ids": torch.tensor(ids, dtype=torch.long),
                    "attention_mask": torch.tensor(masks, dtype=torch.long)}
        else:
            raise ValueError(f"return_tensors must be None, 'np' or 'pt', got {return_tensors!r}")
        return BatchEncoding(data)

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **unused):
        return [self.decode(s, skip_special_tokens=skip_special_tokens) for s in sequences]

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
                            return_tensors=None, **unused):
        """The IT chat template; messages are dicts with "role" (system,
        developer = system, user, assistant) and "content" (a string).
        tokenize=False gives the text; return_tensors="np" a [1, S] array."""
        pairs = []
        for i, m in enumerate(messages):
            content = m.get("content")
            if not isinstance(content, str):
                raise ValueError(f"messages[{i}].content must be a string")
            pairs.append((m.get("role", ""), content))
        if not tokenize:
            return self._tok.render_chat(pairs, add_generation_prompt)
        ids = self._tok.encode_chat(pairs, add_generation_prompt)
        if return_tensors == "np":
            return np.array([ids], dtype=np.int64)
        if return_tensors == "pt":
            import torch
            return torch.tensor([ids], dtype=torch.long)
        return ids


class BatchEncoding(dict):
    """What a tokenizer call returns: a dict (input_ids, attention_mask) that
    also reads as attributes; .to(device) is a no-op on the CPU."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, *args, **kwargs):
        return self


# Transformers' entry points, so `from_pretrained` code ports by changing the import.
AutoModelForCausalLM = Model
AutoTokenizer = Tokenizer
