"""The Python API against the reference fixtures and the inference contract."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXPECTED, MODELS, assert_close, manifest, read_safetensors

CASES = [(name, m["expected_outputs"], c["case"], c["kind"])
         for name, m in manifest()["models"].items()
         for c in manifest()["cases"] if c["model"] == m["expected_outputs"]]
_models = {}


def load(talkie, name):
    if name not in _models:
        _models[name] = talkie.Model(os.path.join(MODELS, name))
    return _models[name]


@pytest.mark.parametrize("model_name,expected,case,kind", CASES)
def test_reference_fixture(talkie, model_name, expected, case, kind):
    model = load(talkie, model_name)
    exp = read_safetensors(os.path.join(EXPECTED, expected, case + ".safetensors"))
    prefixes = [""] if kind == "single" else [f"seq{i}." for i in range(len(exp["lengths"]))]
    for p in prefixes:
        ids = exp[p + "input_ids"]
        hidden = (p + "hidden_states.0") in exp
        out = model(ids, output_hidden_states=hidden, output_attentions=hidden)
        assert out.logits.dtype == np.float32
        assert_close(out.logits[0], exp[p + "logits"], f"{case} {p}logits")
        if hidden:
            assert len(out.hidden_states) == model.config.n_layer + 1
            for i, h in enumerate(out.hidden_states):
                assert_close(h[0], exp[f"{p}hidden_states.{i}"], f"hidden_states.{i}")
            for i, a in enumerate(out.attentions):
                assert_close(a[0], exp[f"{p}attentions.{i}"], f"attentions.{i}")
        # Greedy continuation through generate equals the fixture's.
        greedy = exp[p + "greedy_tokens"]
        new = model.generate(ids[None, :], max_new_tokens=len(greedy), ignore_eos=True)
        assert new.shape == (1, len(ids) + len(greedy))
        assert new[0, len(ids):].tolist() == greedy.tolist()


def test_left_padded_batch_equals_single_runs_bit_for_bit(talkie):
    model = load(talkie, "small")
    a, b = [5, 9, 33, 100, 7, 250], [42, 8]
    ids = np.array([a, [0] * 4 + b])
    mask = np.array([[1] * 6, [0] * 4 + [1] * 2])
    out = model(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    alone_a, alone_b = model([a], output_hidden_states=True), model([b], output_hidden_states=True)
    assert np.array_equal(out.logits[0], alone_a.logits[0])
    assert np.array_equal(out.logits[1, 4:], alone_b.logits[0])
    assert np.array_equal(out.hidden_states[3][1, 4:], alone_b.hidden_states[3][0])
    assert out.position_ids[1].tolist() == [0, 0, 0, 0, 0, 1] or out.position_ids[1, 4:].tolist() == [0, 1]
    assert out.attentions[0].shape == (2, model.config.n_head, 6, 6)


def test_prefill_in_two_calls_with_past_key_values_is_bit_identical(talkie):
    model = load(talkie, "tiny")
    ids = np.array([[3, 14, 15, 92, 65, 35, 89, 79]])
    whole = model(ids)
    first = model(ids[:, :5], use_cache=True)
    assert len(first.past_key_values) == 5
    second = model(ids[:, 5:], past_key_values=first.past_key_values, use_cache=True)
    assert len(second.past_key_values) == 8
    assert np.array_equal(np.concatenate([first.logits, second.logits], axis=1), whole.logits)
    # Crop and re-feed; copies are independent.
    cache = second.past_key_values
    branch = cache.copy()
    cache.crop(6)
    again = model(ids[:, 6:7], past_key_values=cache)
    assert np.array_equal(again.logits[0, 0], whole.logits[0, 6])
    assert len(branch) == 8


def test_padded_batch_prefill_in_chunks_through_the_cache(talkie):
    model = load(talkie, "tiny")
    ids = np.array([[7, 8, 9, 10, 11], [0, 0, 0, 20, 21]])
    mask = np.array([[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]])
    whole = model(ids, attention_mask=mask)
    cache = model.new_cache(batch=2)
    a = model(ids[:, :3], attention_mask=mask[:, :3], past_key_values=cache)
    b = model(ids[:, 3:], attention_mask=mask, past_key_values=cache)
    assert np.array_equal(a.logits[0], whole.logits[0, :3])
    assert np.array_equal(b.logits, whole.logits[:, 3:])


def test_logits_to_keep_unembed_and_score(talkie):
    model = load(talkie, "tiny")
    ids = [[5, 77, 310, 42, 9]]
    full = model(ids, output_hidden_states=True)
    last = model(ids, logits_to_keep=1)
    assert last.logits.shape == (1, 1, model.config.vocab_size)
    assert np.array_equal(last.logits[0, 0], full.logits[0, -1])
    # The logit lens on the final (already normed) state gives the logits exactly.
    lens = model.unembed(full.hidden_states[-1], apply_final_norm=False)
    assert np.array_equal(lens, full.logits)
    assert model.unembed(full.hidden_states[2]).shape == full.logits.shape
    logprobs, nll, ppl = model.score(ids)
    ref = full.logits[0, :-1] - np.log(np.exp(full.logits[0, :-1].astype(np.float64)).sum(-1, keepdims=True))
    assert np.allclose(logprobs, ref[np.arange(4), ids[0][1:]], atol=1e-4)
    assert abs(ppl - np.exp(nll)) < 1e-9


def test_arrays_own_their_buffers_without_copies(talkie):
    model = load(talkie, "tiny")
    out = model([[1, 2, 3]])
    assert out.logits.flags["C_CONTIGUOUS"]
    assert not out.logits.flags["OWNDATA"]  # a view over the engine's buffer, kept alive by it
    logits = out.logits
    del out
    assert np.isfinite(logits).all()


def test_bad_input_raises_python_errors(talkie):
    model = load(talkie, "tiny")
    with pytest.raises(TypeError):
        model(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError):
        model(np.zeros((1, 2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="1000000"):
        model([[1, 1000000]])
    with pytest.raises(ValueError):
        model([[1, -3]])
    with pytest.raises(ValueError):
        model([[1, 2 ** 40]])
    with pytest.raises(ValueError, match="attention_mask"):
        model([[1, 2]], attention_mask=[[1, 1, 1, 1], [1, 1, 1, 1]])
    with pytest.raises(ValueError):
        model([[1, 2], [3]])
    other = load(talkie, "small")
    cache = other.new_cache()
    with pytest.raises(ValueError, match="another model"):
        model([[1, 2]], past_key_values=cache)
    with pytest.raises(TypeError):
        model([[1, 2]], past_key_values="cache")
    with pytest.raises(FileNotFoundError):
        talkie.Model("/nonexistent/model")
    with pytest.raises(ValueError):
        talkie.Model(os.path.join(os.path.dirname(__file__), "conftest.py"))
    with pytest.raises(ValueError):
        talkie.Model(os.path.join(MODELS, "tiny"), policy="quick")


def test_bundled_model_tokenizer_chat_and_generate(talkie):
    model = talkie.Model()
    tok = talkie.Tokenizer(model)
    assert tok.is_chat
    ids = tok.encode("And it came to pass")
    assert tok.decode(ids) == "And it came to pass"
    text = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Hello"}], tokenize=False)
    assert text == "<|system|>Be brief.<|end|><|user|>Hello<|end|><|assistant|>"
    chat_ids = tok.apply_chat_template([{"role": "user", "content": "Hello"}])
    assert chat_ids[0] == tok.special_tokens["<|user|>"]
    with pytest.raises(ValueError):
        tok.apply_chat_template([{"role": "user", "content": None}])
    pieces = []
    out = model.generate([ids], max_new_tokens=16, streamer=pieces.append)
    new_text = tok.decode(out[0, len(ids):], skip_special_tokens=True)
    assert "".join(pieces) == new_text
    # Same as the command line's greedy output on the same prompt.
    cli = os.environ.get("TALKIE_CLI")
    if cli:
        res = subprocess.run([cli, "generate", "--temperature", "0", "-n", "16", "--quiet",
                              "And it came to pass"], capture_output=True, text=True, check=True)
        assert res.stdout.rstrip("\n") == "And it came to pass" + new_text
    # A left-padded batch generates each row as it would alone.
    other = tok.encode("The king said")
    pad = len(ids) - len(other)
    assert pad > 0
    batch = np.array([ids, [0] * pad + other])
    mask = np.array([[1] * len(ids), [0] * pad + [1] * len(other)])
    both = model.generate(batch, attention_mask=mask, max_new_tokens=16)
    alone = model.generate([other], max_new_tokens=16)
    n = alone.shape[1] - len(other)
    assert both[1, len(ids): len(ids) + n].tolist() == alone[0, len(other):].tolist()
    # Sampling with a seed repeats itself.
    s1 = model.generate([ids], do_sample=True, temperature=0.9, top_k=40, seed=7, max_new_tokens=12)
    s2 = model.generate([ids], do_sample=True, temperature=0.9, top_k=40, seed=7, max_new_tokens=12)
    assert np.array_equal(s1, s2)


def test_import_from_an_installed_copy_in_another_directory(talkie, tmp_path):
    """`import talkie; talkie.Model()` works from a folder that is not the build tree."""
    res = subprocess.run([sys.executable, "-c", "import talkie; m = talkie.Model(); print(m.config.n_layer)"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) > 0
