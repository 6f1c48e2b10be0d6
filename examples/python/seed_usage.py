"""The usage example of the Transformers fork's model card, run on talkie.cpp:
only the import and the model path differ.

    python3 seed_usage.py [OUT_DIR] [MODEL_PATH]
"""
import sys

import talkie

path = sys.argv[2] if len(sys.argv) > 2 else talkie.default_model_path()

tokenizer = talkie.AutoTokenizer.from_pretrained(path)
model = talkie.AutoModelForCausalLM.from_pretrained(path, dtype="bfloat16")
messages = [{"role": "user", "content": "Tell me about life in 1925."}]
text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
inputs = tokenizer([text], return_tensors="np")
out = model.generate(**inputs, max_new_tokens=256, do_sample=False)
print(tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))
