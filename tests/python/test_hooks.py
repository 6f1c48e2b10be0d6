"""Hook points from Python: capture, run_with_cache, patching hooks, steering."""
import numpy as np
import pytest

from conftest import MODELS, read_safetensors
import os


def load(talkie, name="small"):
    return talkie.Model(os.path.join(MODELS, name))


def test_capture_equals_hidden_states_and_leaves_logits_alone(talkie):
    m = load(talkie)
    ids = np.array([[3, 1, 4, 1, 5]])
    plain = m(ids, output_hidden_states=True)
    out = m(ids, capture=["blocks.*.hook_resid_post", "blocks.0.attn.hook_pattern"])
    assert np.array_equal(out.logits, plain.logits)
    for layer in range(m.config.n_layer - 1):
        got = out.captured[f"blocks.{layer}.hook_resid_post"]
        assert got.shape == (1, 5, m.config.n_embd)
        assert np.array_equal(got, plain.hidden_states[layer + 1])
    assert out.captured["blocks.0.attn.hook_pattern"].shape == (1, m.config.n_head, 5, 5)


def test_run_with_cache_returns_every_point_by_default(talkie):
    m = load(talkie)
    logits, cache = m.run_with_cache(np.array([[2, 7, 1]]))
    names = m.hook_names()
    assert set(cache) == {n for n in names if not n.endswith("hook_pattern")}
    assert np.array_equal(cache["logits"], logits)
    _, only = m.run_with_cache(np.array([[2, 7, 1]]), names_filter=lambda n: "mlp.hook_post" in n)
    assert len(only) == m.config.n_layer
    assert only["blocks.0.mlp.hook_post"].shape == (1, 3, m.config.intermediate_size)


def test_a_hook_that_returns_the_same_values_changes_no_bit(talkie):
    m = load(talkie)
    ids = np.array([[9, 8, 7, 6]])
    plain = m(ids)
    patched = m.run_with_hooks(ids, fwd_hooks=[(n, lambda x, e: x.copy()) for n in m.hook_names()])
    assert np.array_equal(patched.logits, plain.logits)


def test_patching_in_place_and_by_return_value(talkie):
    m = load(talkie)
    ids = np.array([[9, 8, 7, 6]])
    seen = []

    def zero_last(x, event):
        seen.append((event.name, event.layer, event.sequence, list(event.slots)))
        x[-1] = 0.0  # in place: only the last position

    zeroed = m(ids, hooks={"blocks.0.hook_resid_post": zero_last})
    assert seen == [("blocks.0.hook_resid_post", 0, 0, [0, 1, 2, 3])]
    plain = m(ids)
    assert np.array_equal(zeroed.logits[0, :3], plain.logits[0, :3])
    assert not np.array_equal(zeroed.logits[0, 3], plain.logits[0, 3])
    returned = m(ids, hooks=[("blocks.0.hook_resid_post",
                              lambda x, e: np.concatenate([x[:-1], np.zeros_like(x[-1:])]))])
    assert np.array_equal(returned.logits, zeroed.logits)
    with pytest.raises(ValueError, match="another size"):
        m(ids, hooks={"blocks.0.hook_resid_post": lambda x, e: np.zeros(3)})
    with pytest.raises(ZeroDivisionError):
        m(ids, hooks={"blocks.0.hook_resid_post": lambda x, e: 1 / 0})


def test_steering_vector_is_added_exactly_and_steers_generation(talkie):
    m = load(talkie)
    ids = np.array([[5, 4, 3]])
    v = np.linspace(-1, 1, m.config.n_embd, dtype=np.float32)
    hooks = talkie.Hooks().add_vector("blocks.1.hook_resid_post", v, scale=3.0)
    name = "blocks.1.hook_resid_post"
    plain = m(ids, capture=[name]).captured[name]
    steered = m(ids, hooks=hooks, capture=[name]).captured[name]
    assert np.array_equal(steered, plain + np.float32(3.0) * v)
    big = talkie.Hooks().add_vector("blocks.*.hook_resid_post", np.full(m.config.n_embd, 40.0))
    a = m.generate(ids, max_new_tokens=5, ignore_eos=True, hooks=big)
    b = m.generate(ids, max_new_tokens=5, ignore_eos=True, hooks=big)
    c = m.generate(ids, max_new_tokens=5, ignore_eos=True)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_project_out_and_bad_hook_names(talkie):
    m = load(talkie)
    d = np.zeros(m.config.n_embd, dtype=np.float32)
    d[0] = 1.0
    hooks = talkie.Hooks().project_out("blocks.0.hook_resid_pre", d)
    x = m(np.array([[1, 2]]), hooks=hooks, capture=["blocks.0.hook_resid_pre"]).captured
    assert np.all(x["blocks.0.hook_resid_pre"][..., 0] == 0.0)
    with pytest.raises(ValueError, match="unknown hook point"):
        talkie.Hooks().add("blocks.0.hook_nope", lambda x, e: None)
    with pytest.raises(ValueError, match="out of range"):
        m(np.array([[1]]), capture=["blocks.99.hook_resid_post"])


def test_control_vector_file_and_ablation(talkie):
    m = load(talkie, "tiny")
    ids = np.array([[5, 17, 300, 42, 9]])
    cvec = os.path.join(os.path.dirname(MODELS), "..", "control_vectors")
    names = [f"blocks.{l}.hook_resid_post" for l in range(m.config.n_layer)]
    plain = m(ids, capture=names).captured
    hooks = talkie.Hooks().add_control_vector(os.path.join(cvec, "tiny-cvec.gguf"), layers=(0, 1))
    steered = m(ids, hooks=hooks, capture=names).captured
    assert np.array_equal(steered[names[0]], plain[names[0]])
    # direction.1, read back from its safetensors twin, is added exactly.
    v = read_safetensors(os.path.join(cvec, "tiny-cvec.safetensors"))["direction.1"]
    assert np.array_equal(steered[names[1]], plain[names[1]] + v)
    d = np.linspace(1, 2, m.config.n_embd, dtype=np.float32)
    out = m(ids, hooks=talkie.Hooks().ablate_direction(d), capture=names).captured
    unit = d / np.linalg.norm(d)
    for n in names:
        assert np.all(np.abs(out[n][0] @ unit) < 1e-4 * np.linalg.norm(out[n][0], axis=-1) + 1e-5)
    with pytest.raises(Exception, match="not 'controlvector'"):
        talkie.Hooks().add_control_vector(os.path.join(os.path.dirname(MODELS), "..", "gguf",
                                                       "tiny-bf16.gguf"))
