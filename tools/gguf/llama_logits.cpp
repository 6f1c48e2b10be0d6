// Dumps llama.cpp's logits for a token sequence, an oracle for talkie.cpp's
// GGUF support (tests/data/gguf/small/). Built against llama.cpp's own
// library (llama.h) by tools/gguf/make_quant_fixtures.sh:
//
//   llama_logits MODEL.gguf 1,2,3,... OUT.safetensors
//
// One sequence, one batch, every position's logits, float32, one thread;
// written as a safetensors file with "input_ids" (I64 [S]) and "logits"
// (F32 [S, vocab]), the layout of the reference fixtures.
#include <llama.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

void Quiet(ggml_log_level level, const char* text, void*) {
  if (level >= GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

std::vector<int32_t> ParseIds(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(std::atoi(item.c_str()));
  return ids;
}

bool WriteSafetensors(const std::string& path, const std::vector<int32_t>& ids32,
                      const std::vector<float>& logits, int64_t vocab) {
  const std::vector<int64_t> ids(ids32.begin(), ids32.end());
  const size_t ids_bytes = ids.size() * 8, logits_bytes = logits.size() * 4;
  std::string header = "{\"input_ids\":{\"dtype\":\"I64\",\"shape\":[" +
                       std::to_string(ids.size()) + "],\"data_offsets\":[0," +
                       std::to_string(ids_bytes) + "]},\"logits\":{\"dtype\":\"F32\",\"shape\":[" +
                       std::to_string(ids.size()) + "," + std::to_string(vocab) +
                       "],\"data_offsets\":[" + std::to_string(ids_bytes) + "," +
                       std::to_string(ids_bytes + logits_bytes) + "]}}";
  while (header.size() % 8 != 0) header += ' ';
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const uint64_t n = header.size();
  bool ok = std::fwrite(&n, 8, 1, f) == 1 && std::fwrite(header.data(), 1, n, f) == n &&
            std::fwrite(ids.data(), 1, ids_bytes, f) == ids_bytes &&
            std::fwrite(logits.data(), 1, logits_bytes, f) == logits_bytes;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL.gguf IDS OUT.safetensors\n", argv[0]);
    return 2;
  }
  const std::vector<int32_t> ids = ParseIds(argv[2]);
  llama_log_set(Quiet, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.progress_callback = [](float, void*) { return true; };  // no progress dots
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (model == nullptr) {
    std::fprintf(stderr, "%s: cannot load\n", argv[1]);
    return 1;
  }
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 256;
  cp.n_batch = 256;
  cp.n_ubatch = 256;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) {
    std::fprintf(stderr, "cannot create a context\n");
    return 1;
  }
  const int64_t vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  llama_batch batch = llama_batch_init(static_cast<int32_t>(ids.size()), 0, 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = static_cast<llama_pos>(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = static_cast<int32_t>(ids.size());
  if (llama_decode(ctx, batch) != 0) {
    std::fprintf(stderr, "llama_decode failed\n");
    return 1;
  }
  std::vector<float> logits;
  for (size_t i = 0; i < ids.size(); ++i) {
    const float* row = llama_get_logits_ith(ctx, static_cast<int32_t>(i));
    logits.insert(logits.end(), row, row + vocab);
  }
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  if (!WriteSafetensors(argv[3], ids, logits, vocab)) {
    std::fprintf(stderr, "%s: cannot write\n", argv[3]);
    return 1;
  }
  return 0;
}
