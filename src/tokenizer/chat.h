// The IT chat template of spec §4: each message becomes
// <|role|>{content}<|end|>, then <|assistant|> asks for the reply.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace talkie::tokenizer {

enum class Role { kSystem, kUser, kAssistant };

struct ChatMessage {
  Role role;
  std::string content;
};

// "system", "user" or "assistant"; anything else is an Error naming it.
Role ParseRole(std::string_view name);
std::string_view RoleName(Role role);
// The marker that opens a message of `role` (<|system|>, ...).
std::string_view RoleMarker(Role role);

// The prompt as text. Message contents are inserted verbatim.
std::string RenderChat(std::span<const ChatMessage> messages, bool add_generation_prompt = true);

// The prompt as ids: markers become their special ids, and contents are
// encoded as ordinary text, so a content that spells a marker cannot inject
// one. Needs an IT tokenizer (Error otherwise).
std::vector<int32_t> EncodeChat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                bool add_generation_prompt = true);

}  // namespace talkie::tokenizer
