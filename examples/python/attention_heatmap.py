"""Attention pattern of one head as a heat map.

    python3 attention_heatmap.py [OUT_DIR] [MODEL_PATH]

Runs a prompt through the model with output_attentions=True and draws the
[query, key] weights of one layer and head, labelled with the tokens.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import talkie  # noqa: E402

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
model = talkie.Model(sys.argv[2] if len(sys.argv) > 2 else "")
tok = talkie.Tokenizer(model)

ids = tok.encode("And the king said unto the prophet, Go thou unto the city")
out = model([ids], output_attentions=True)
layer, head = model.config.n_layer - 1, 0
weights = out.attentions[layer][0, head]  # [query, key]
labels = [tok.decode([i]) for i in ids]

fig, ax = plt.subplots(figsize=(7, 6))
im = ax.imshow(weights, cmap="viridis")
ax.set_xticks(range(len(ids)), labels, rotation=90)
ax.set_yticks(range(len(ids)), labels)
ax.set_xlabel("key")
ax.set_ylabel("query")
ax.set_title(f"layer {layer}, head {head}")
fig.colorbar(im)
fig.tight_layout()
path = os.path.join(out_dir, "attention_heatmap.png")
fig.savefig(path, dpi=100)
print(path)
