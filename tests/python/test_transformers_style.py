"""The Transformers-style surface: the seed's usage snippet verbatim, the
tokenizer call with padding, labels -> loss, and from_pretrained keywords."""
import json
import os
import subprocess

import numpy as np
import pytest

CLI = os.environ.get("TALKIE_CLI")


def seed_snippet(talkie, path, max_new_tokens=256):
    """The model card's example, with only the import and the path changed."""
    tokenizer = talkie.AutoTokenizer.from_pretrained(path)
    model = talkie.AutoModelForCausalLM.from_pretrained(path, dtype="bfloat16")
    messages = [{"role": "user", "content": "Tell me about life in 1925."}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer([text], return_tensors="np")
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return text, tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def test_seed_usage_snippet_matches_the_command_line(talkie):
    path = talkie.default_model_path()
    text, reply = seed_snippet(talkie, path)
    assert reply.strip()
    if CLI:
        res = subprocess.run([CLI, "generate", "--allow-special", "--temperature", "0", "-n", "256",
                              "--quiet", "-m", path, text], capture_output=True, text=True, check=True)
        assert res.stdout.rstrip("\n") == text + reply


def test_tokenizer_call_pads_left_and_batched_generate_matches_single(talkie):
    tok = talkie.AutoTokenizer.from_pretrained("")
    model = talkie.AutoModelForCausalLM.from_pretrained("", trust_remote_code=True, device_map="auto",
                                                        torch_dtype="bfloat16")
    enc = tok(["And it came to pass", "The king"], padding=True, return_tensors="np").to("cpu")
    assert enc.input_ids.shape == enc["attention_mask"].shape
    short = tok("The king")["input_ids"]
    pad = enc.input_ids.shape[1] - len(short)
    assert pad > 0
    assert enc.attention_mask[1].tolist() == [0] * pad + [1] * len(short)
    assert enc.input_ids[1, pad:].tolist() == short
    right = tok(["And it came to pass", "The king"], padding=True, padding_side="right")
    assert right["attention_mask"][1][-pad:] == [0] * pad
    both = model.generate(**enc, max_new_tokens=12)
    alone = model.generate(**tok(["The king"], return_tensors="np"), max_new_tokens=12)
    n = enc.input_ids.shape[1]
    assert tok.decode(both[1, n:], skip_special_tokens=True) == tok.batch_decode(
        alone[:, len(short):], skip_special_tokens=True)[0]
    with pytest.raises(ValueError):
        tok(["a b c", "a"], return_tensors="np")  # ragged without padding
    # Special-token text in the input becomes its id, as in Transformers.
    assert tok("<|user|>")["input_ids"] == [tok.special_tokens["<|user|>"]]


def test_labels_loss_equals_the_perplexity_command(talkie, tmp_path):
    model = talkie.Model()
    tok = talkie.Tokenizer(model)
    text = "And it came to pass, when the king heard these words, that he rent his clothes.\n"
    ids = tok.encode(text)
    out = model([ids], labels=[ids])
    _, mean_nll, _ = model.score(ids)
    assert abs(out.loss - mean_nll) < 1e-6
    # -100 positions are ignored.
    masked = list(ids)
    masked[1:4] = [-100] * 3
    partial = model([ids], labels=[masked]).loss
    assert partial != out.loss and np.isfinite(partial)
    if CLI:
        f = tmp_path / "text.txt"
        f.write_text(text)
        res = subprocess.run([CLI, "perplexity", "--json", "-f", str(f)], capture_output=True,
                             text=True, check=True)
        assert abs(json.loads(res.stdout)["mean_nll"] - out.loss) < 1e-6
    with pytest.raises(ValueError):
        model([ids], labels=[ids[:-1]])


def test_from_pretrained_rejects_what_it_cannot_honour(talkie):
    with pytest.raises(TypeError):
        talkie.AutoModelForCausalLM.from_pretrained("", load_in_8bit=True)
    with pytest.raises(ValueError):
        talkie.AutoModelForCausalLM.from_pretrained("", device_map="cuda:0")
    with pytest.raises(ValueError):
        talkie.AutoModelForCausalLM.from_pretrained("", dtype="int4")
    model = talkie.AutoModelForCausalLM.from_pretrained("")
    assert model.to("cpu") is model and model.eval() is model
    assert model.config.hidden_size == model.config.n_embd


def test_inputs_embeds_equal_to_the_embedding_rows_give_the_same_logits(talkie):
    model = talkie.Model()
    tok = talkie.Tokenizer(model)
    ids = np.array([tok.encode("And it came to pass"), tok.encode("The king said unto him")[:5]])
    mask = np.ones_like(ids)
    embeds = model.get_input_embeddings()(ids)
    assert embeds.shape == ids.shape + (model.config.n_embd,)
    a = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    b = model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
    assert np.array_equal(a.logits, b.logits)
    assert np.array_equal(a.hidden_states[3], b.hidden_states[3])
    # A perturbed (soft) prompt changes the result; bad shapes are errors.
    c = model(inputs_embeds=embeds * 1.01)
    assert not np.array_equal(c.logits, a.logits)
    with pytest.raises(ValueError):
        model(input_ids=ids, inputs_embeds=embeds)
    with pytest.raises(ValueError):
        model(inputs_embeds=embeds[..., :-1])
    bad = embeds.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model(inputs_embeds=bad)
