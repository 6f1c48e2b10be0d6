"""Logit lens: what each layer's residual stream predicts for the next token.

    python3 logit_lens.py [OUT_DIR] [MODEL_PATH]

Applies the model's final norm and lm_head (model.unembed) to every hidden
state of the last position and plots the probability each layer gives to the
model's final prediction, and the top token per layer.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import talkie  # noqa: E402

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
model = talkie.Model(sys.argv[2] if len(sys.argv) > 2 else "")
tok = talkie.Tokenizer(model)

ids = tok.encode("In the beginning God created the heaven and the")
out = model([ids], output_hidden_states=True)
final = int(out.logits[0, -1].argmax())

probs, tops = [], []
for layer, h in enumerate(out.hidden_states):
    # The last hidden state is already normed (HF convention).
    logits = model.unembed(h[0, -1], apply_final_norm=layer < model.config.n_layer)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    probs.append(p[final])
    tops.append(tok.decode([int(logits.argmax())]))

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(range(len(probs)), probs, marker="o")
for layer, (p, t) in enumerate(zip(probs, tops)):
    ax.annotate(repr(t), (layer, p), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
ax.set_xlabel("layer (0 = embedding)")
ax.set_ylabel(f"p({tok.decode([final])!r})")
ax.set_title("logit lens at the last position")
fig.tight_layout()
path = os.path.join(out_dir, "logit_lens.png")
fig.savefig(path, dpi=100)
print(path)
