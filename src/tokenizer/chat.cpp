// Chat template rendering and encoding.
#include "tokenizer/chat.h"

#include "common/error.h"

namespace talkie::tokenizer {

Role ParseRole(std::string_view name) {
  if (name == "system") return Role::kSystem;
  if (name == "user") return Role::kUser;
  if (name == "assistant") return Role::kAssistant;
  throw Error("chat: unknown role '" + std::string(name) +
              "' (expected system, user or assistant)");
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
  }
  return "";
}

std::string_view RoleMarker(Role role) {
  switch (role) {
    case Role::kSystem:
      return kSystem;
    case Role::kUser:
      return kUser;
    case Role::kAssistant:
      return kAssistant;
  }
  return "";
}

std::string RenderChat(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out += RoleMarker(m.role);
    out += m.content;
    out += kEnd;
  }
  if (add_generation_prompt) out += kAssistant;
  return out;
}

std::vector<int32_t> EncodeChat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                bool add_generation_prompt) {
  auto id_of = [&](std::string_view marker) {
    const std::optional<int32_t> id = tokenizer.SpecialTokenId(marker);
    Check(id.has_value(), "chat: the tokenizer has no " + std::string(marker) +
                              " token (the chat template needs the it style)");
    return *id;
  };
  const int32_t end = id_of(kEnd);
  std::vector<int32_t> ids;
  for (const ChatMessage& m : messages) {
    ids.push_back(id_of(RoleMarker(m.role)));
    const std::vector<int32_t> content = tokenizer.Encode(m.content, /*allow_special=*/false);
    ids.insert(ids.end(), content.begin(), content.end());
    ids.push_back(end);
  }
  if (add_generation_prompt) ids.push_back(id_of(kAssistant));
  return ids;
}

}  // namespace talkie::tokenizer
