// The public Tokenizer: a handle on tokenizer::Tokenizer (src/tokenizer).
#include "talkie/tokenizer.h"

#include "tokenizer/chat.h"
#include "tokenizer/gguf_metadata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace talkie {

static_assert(tokenizer::kValidUtf8 == std::string_view::npos);
size_t FindInvalidUtf8(std::string_view text) { return tokenizer::FindInvalidUtf8(text); }
std::string ReplaceInvalidUtf8(std::string_view bytes) {
  return tokenizer::ReplaceInvalidUtf8(bytes);
}

Tokenizer::Tokenizer(std::unique_ptr<tokenizer::Tokenizer> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::Load(const std::string& path, const std::string& style) {
  std::optional<tokenizer::Style> s;
  if (!style.empty()) s = tokenizer::ParseStyle(style);
  return Tokenizer(std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::FromPath(path, s)));
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool allow_special) const {
  return impl_->Encode(text, allow_special);
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const { return impl_->Decode(ids); }

std::string Tokenizer::TokenBytes(int32_t id) const { return std::string(impl_->TokenBytes(id)); }

std::string Tokenizer::file_chat_template() const { return impl_->file_chat_template(); }

bool Tokenizer::file_chat_template_is_talkies() const {
  return impl_->file_chat_template() == tokenizer::kItChatTemplate;
}

bool Tokenizer::is_chat() const { return impl_->style() == tokenizer::Style::kIt; }

namespace {

std::vector<tokenizer::ChatMessage> ToInternal(const std::vector<ChatMessage>& messages) {
  std::vector<tokenizer::ChatMessage> out;
  out.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    // OpenAI's "developer" role is its new name for "system".
    const tokenizer::Role role =
        m.role == "developer" ? tokenizer::Role::kSystem : tokenizer::ParseRole(m.role);
    out.push_back({role, m.content});
  }
  return out;
}

}  // namespace

std::string Tokenizer::ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) const {
  return tokenizer::RenderChat(ToInternal(messages), add_generation_prompt);
}

std::vector<int32_t> Tokenizer::EncodeChat(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  return tokenizer::EncodeChat(*impl_, ToInternal(messages), add_generation_prompt);
}

std::vector<std::pair<std::string, int32_t>> Tokenizer::special_tokens() const {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const tokenizer::SpecialToken& s : impl_->special_tokens()) out.emplace_back(s.text, s.id);
  return out;
}

std::optional<int32_t> Tokenizer::SpecialTokenId(std::string_view text) const {
  return impl_->SpecialTokenId(text);
}

std::vector<int32_t> Tokenizer::stop_token_ids() const {
  return tokenizer::DefaultStopTokenIds(*impl_);
}

std::vector<int32_t> Tokenizer::end_token_ids() const { return tokenizer::EndTokenIds(*impl_); }

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size(); }

}  // namespace talkie
