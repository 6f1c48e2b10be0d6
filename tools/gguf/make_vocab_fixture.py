"""Writes a vocab-only GGUF (as llama.cpp's models/ggml-vocab-*.gguf) holding
a Talkie tokenizer the way llama.cpp's converter writes it (get_vocab_base +
_set_vocab_gpt2 in conversion/base.py, for TalkieForCausalLM): model "gpt2",
pre "talkie", one byte-level (GPT-2 byte-to-unicode) token string per id up to
the model's vocab size, token types NORMAL for ranks and CONTROL for the
special tokens, and the special ids. The converter reads the Hugging Face
tokenizer through transformers (not available here); this script builds the
same lists from the tiktoken vocab.txt. Merges are left out: the converter
copies them from tokenizer.json, and the tiktoken ranks they derive from are
the token ids.

    PYTHONPATH=<llama.cpp>/gguf-py python3 make_vocab_fixture.py VOCAB_TXT STYLE OUT.gguf

STYLE: base (<|endoftext|> after the ranks) or it (plus <|end|>, <|user|>,
<|assistant|>, <|system|>), numbered from the first id after the last rank.
Run by make_vocab_fixture.sh.
"""
import base64
import sys

import gguf

vocab_txt, style, out = sys.argv[1], sys.argv[2], sys.argv[3]


def byte_to_unicode():
    # GPT-2's table: printable Latin-1 bytes stand for themselves, the others
    # move, in order, to U+0100 onwards.
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


table = byte_to_unicode()
ranks = {}
with open(vocab_txt) as f:
    for line in f:
        token, rank = line.split()
        if int(rank) < 65535:  # Talkie keeps the ranks below 65535 (spec §4)
            ranks[int(rank)] = base64.b64decode(token)
n_ranks = max(ranks) + 1
specials = ["<|endoftext|>"]
if style == "it":
    specials += ["<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]

tokens, types = [], []
for i in range(n_ranks):
    if i in ranks:
        tokens.append("".join(table[b] for b in ranks[i]))
        types.append(gguf.TokenType.NORMAL)
    else:
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
for s in specials:
    tokens.append(s)
    types.append(gguf.TokenType.CONTROL)

w = gguf.GGUFWriter(out, "talkie")
w.add_name("talkie vocab (" + style + ")")
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("talkie")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_bos_token_id(n_ranks)
w.add_eos_token_id(n_ranks + (1 if style == "it" else 0))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
