// vocab.txt and tokenizer.json loaders with line-numbered error messages.
#include "tokenizer/vocab.h"

#include <array>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_limits.h"
#include "io/gguf.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 with padding; false on any malformed input.
bool DecodeBase64(std::string_view in, std::string* out) {
  out->clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return false;  // Data after padding.
      v[k] = Base64Value(c);
      if (v[k] < 0) return false;
    }
    const uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out->push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(bits & 0xFF));
    // Non-canonical encodings (unused low bits set) are rejected too.
    if ((pad == 1 && (v[2] & 0x3)) || (pad == 2 && (v[1] & 0xF))) return false;
  }
  return true;
}

// Vocab with ranks placed; checks the 256 single-byte tokens are present so
// that every byte string can be encoded.
void CheckSingleBytes(const std::vector<std::string>& tokens, const std::string& name) {
  std::array<bool, 256> have{};
  for (const std::string& t : tokens) {
    if (t.size() == 1) have[static_cast<uint8_t>(t[0])] = true;
  }
  for (int b = 0; b < 256; ++b) {
    Check(have[b], name + ": no token for the single byte 0x" +
                       std::string(1, "0123456789abcdef"[b >> 4]) +
                       std::string(1, "0123456789abcdef"[b & 15]) + " (every byte needs a token)");
  }
}

}  // namespace

std::string ReadFileOrThrow(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Check(in.good(), "cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  Check(!in.bad(), "cannot read " + path);
  return buf.str();
}

Vocab ParseTiktokenVocab(std::string_view contents, const std::string& name) {
  Vocab vocab;
  std::unordered_map<std::string, int64_t> token_line;
  std::unordered_map<int64_t, int64_t> rank_line;
  token_line.reserve(contents.size() / 10 + 16);
  rank_line.reserve(contents.size() / 10 + 16);
  std::string bytes;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < contents.size()) {
    size_t eol = contents.find('\n', pos);
    if (eol == std::string_view::npos) eol = contents.size();
    std::string_view line = contents.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // tiktoken skips blank lines too.
    // Messages are built only on failure: this loop runs 65k times per load.
    auto fail = [&](const std::string& what) {
      throw Error(name + " line " + std::to_string(line_no) + ": " + what);
    };
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space + 1 >= line.size()) {
      fail("missing rank (expected 'base64 rank')");
    }
    const std::string_view b64 = line.substr(0, space);
    const std::string_view rank_text = line.substr(space + 1);
    if (!DecodeBase64(b64, &bytes)) fail("bad base64 '" + std::string(b64.substr(0, 64)) + "'");
    int64_t rank = 0;
    for (char c : rank_text) {
      if (c < '0' || c > '9') fail("bad rank '" + std::string(rank_text.substr(0, 32)) + "'");
      rank = rank * 10 + (c - '0');
      if (rank > INT32_MAX) fail("rank out of range");
    }
    auto [rit, new_rank] = rank_line.emplace(rank, line_no);
    if (!new_rank) {
      fail("duplicate rank " + std::to_string(rank) + " (first on line " +
           std::to_string(rit->second) + ")");
    }
    auto [tit, new_token] = token_line.emplace(bytes, line_no);
    if (!new_token) fail("duplicate token (first on line " + std::to_string(tit->second) + ")");
    if (rank >= kMaxRankExclusive) continue;  // Talkie drops these ranks.
    if (static_cast<size_t>(rank) >= vocab.tokens.size()) vocab.tokens.resize(rank + 1);
    vocab.tokens[rank] = bytes;
  }
  CheckSingleBytes(vocab.tokens, name);
  return vocab;
}

Vocab LoadTiktokenVocab(const std::string& path) {
  return ParseTiktokenVocab(ReadFileOrThrow(path), path);
}

uint32_t ByteToUnicode(uint8_t byte) {
  // Printable Latin-1 bytes stand for themselves; the rest are moved, in
  // order, to U+0100 onwards.
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table[byte];
}

int ByteFromUnicode(uint32_t cp) {
  static const std::array<int, 324> table = [] {
    std::array<int, 324> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[ByteToUnicode(static_cast<uint8_t>(b))] = b;
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

// A byte-level token string (GPT-2 byte-to-unicode characters) -> its bytes.
std::string ByteLevelToBytes(std::string_view text, const std::string& where) {
  Check(FindInvalidUtf8(text) == kValidUtf8 && !text.empty(), where + "not a byte-level token");
  std::string bytes;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    const int b = ByteFromUnicode(DecodeUtf8Unchecked(s + i, &len));
    Check(b >= 0, where + "character outside the byte-level alphabet");
    bytes.push_back(static_cast<char>(b));
    i += len;
  }
  return bytes;
}

std::string BytesToByteLevel(std::string_view bytes) {
  std::string text;
  for (unsigned char b : bytes) {
    const uint32_t cp = ByteToUnicode(b);  // < U+0800: one or two UTF-8 bytes
    if (cp < 0x80) {
      text.push_back(static_cast<char>(cp));
    } else {
      text.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return text;
}

Vocab ParseHfTokenizerJson(std::string_view contents, const std::string& name) {
  CheckJsonDepth(contents, name);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(contents);
  } catch (const nlohmann::json::exception& e) {
    throw Error(name + ": invalid JSON: " + e.what());
  }
  Check(doc.is_object() && doc.contains("model") && doc["model"].is_object(),
        name + ": no \"model\" object");
  const nlohmann::json& model = doc["model"];
  if (model.contains("type") && !model["type"].is_null()) {
    Check(model["type"] == "BPE", name + ": model.type is not BPE");
  }
  Check(model.contains("vocab") && model["vocab"].is_object(), name + ": no model.vocab object");

  Vocab vocab;
  std::unordered_map<std::string, int32_t> added_ids;
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const auto& t : doc["added_tokens"]) {
      Check(t.is_object() && t.contains("id") && t["id"].is_number_integer() &&
                t.contains("content") && t["content"].is_string(),
            name + ": added_tokens entry without integer id and string content");
      const int64_t id = t["id"].get<int64_t>();
      Check(id >= 0 && id < (1 << 24), name + ": added token id out of range");
      const std::string content = t["content"].get<std::string>();
      Check(!content.empty(), name + ": empty added token");
      Check(added_ids.emplace(content, static_cast<int32_t>(id)).second,
            name + ": duplicate added token " + content);
      vocab.added.push_back({content, static_cast<int32_t>(id)});
    }
  }
  std::unordered_map<std::string, std::string> seen;  // bytes -> token string
  for (const auto& [text, id_json] : model["vocab"].items()) {
    const std::string where = name + ": model.vocab entry \"" + text + "\": ";
    Check(id_json.is_number_integer(), where + "id is not an integer");
    const int64_t id = id_json.get<int64_t>();
    Check(id >= 0 && id < (1 << 24), where + "id out of range");
    if (added_ids.count(text)) continue;  // Special tokens are not ranks.
    std::string bytes = ByteLevelToBytes(text, where);
    if (static_cast<size_t>(id) >= vocab.tokens.size()) vocab.tokens.resize(id + 1);
    Check(vocab.tokens[id].empty(), where + "duplicate id " + std::to_string(id));
    Check(seen.emplace(bytes, text).second, where + "duplicate token bytes");
    vocab.tokens[id] = std::move(bytes);
  }
  for (const SpecialToken& t : vocab.added) {
    Check(static_cast<size_t>(t.id) >= vocab.tokens.size() || vocab.tokens[t.id].empty(),
          name + ": added token " + t.text + " reuses id " + std::to_string(t.id));
  }
  CheckSingleBytes(vocab.tokens, name);
  return vocab;
}

Vocab LoadHfTokenizerJson(const std::string& path) {
  return ParseHfTokenizerJson(ReadFileOrThrow(path), path);
}

Vocab VocabFromGguf(const io::GgufFile& file) {
  const std::string name = file.origin();
  auto string_of = [&](const char* key) -> std::string {
    const io::GgufValue* v = file.Find(key);
    Check(v != nullptr, name + ": no " + key + " (the file holds no tokenizer)");
    Check(v->type == io::GgufType::kString, name + ": " + key + " is not a string");
    return v->s;
  };
  const std::string model = string_of("tokenizer.ggml.model");
  Check(model == "gpt2", name + ": tokenizer.ggml.model is '" + model +
                             "'; Talkie's tokenizer is byte-level BPE ('gpt2')");
  // llama.cpp runs "talkie" with its GPT-4o pre-tokenizer: the same regex.
  const std::string pre = string_of("tokenizer.ggml.pre");
  Check(pre == "talkie" || pre == "gpt-4o",
        name + ": tokenizer.ggml.pre is '" + pre + "', not Talkie's pre-tokenizer ('talkie')");
  const io::GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  Check(tokens != nullptr && tokens->type == io::GgufType::kArray &&
            tokens->element_type == io::GgufType::kString && !tokens->strings.empty(),
        name + ": tokenizer.ggml.tokens is not a non-empty array of strings");
  Check(tokens->strings.size() < (1u << 24), name + ": tokenizer.ggml.tokens is too long");
  const io::GgufValue* types = file.Find("tokenizer.ggml.token_type");
  Check(types != nullptr && types->type == io::GgufType::kArray && !types->ints.empty(),
        name + ": tokenizer.ggml.token_type is not an array of integers");
  Check(types->ints.size() == tokens->strings.size(),
        name + ": tokenizer.ggml.token_type has " + std::to_string(types->ints.size()) +
            " entries for " + std::to_string(tokens->strings.size()) + " tokens");

  // llama_token_type: 1 normal, 2 unknown, 3 control, 4 user-defined,
  // 5 unused, 6 byte.
  enum : int64_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };
  Vocab vocab;
  std::unordered_map<std::string, int32_t> seen;  // bytes -> id
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    const std::string& text = tokens->strings[id];
    const int64_t type = types->ints[id];
    const std::string where = name + ": token " + std::to_string(id) + ": ";
    if (type == kUnused) continue;
    if (type == kControl || type == kUserDefined) {
      Check(!text.empty(), where + "empty special token");
      vocab.added.push_back({text, static_cast<int32_t>(id)});
      continue;
    }
    Check(type == kNormal, where + "token type " + std::to_string(type) +
                               " (only normal, control, user-defined and unused are Talkie's)");
    std::string bytes = ByteLevelToBytes(text, where);
    const auto [it, fresh] = seen.emplace(bytes, static_cast<int32_t>(id));
    Check(fresh, where + "the same bytes as token " + std::to_string(it->second));
    if (id >= vocab.tokens.size()) vocab.tokens.resize(id + 1);
    vocab.tokens[id] = std::move(bytes);
  }
  CheckSingleBytes(vocab.tokens, name);
  return vocab;
}

}  // namespace talkie::tokenizer
