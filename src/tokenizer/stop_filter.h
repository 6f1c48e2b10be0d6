// StopFilter: cuts streamed, decoded text at the first occurrence of a stop
// string (the chat markers of spec §4 plus any user stop strings). It holds
// back only the tail that could still be the start of a stop string (e.g.
// "<|us" of "<|user|>"), so a marker split across pieces never leaks and
// all other text is released as soon as it is decoded.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace talkie::tokenizer {

class StopFilter {
 public:
  // The chat markers are always stop strings; `extra` adds more (--stop).
  explicit StopFilter(std::vector<std::string> extra = {});

  // The chat marker strings: <|user|>, <|assistant|>, <|system|>, <|end|>,
  // <|endoftext|>.
  static std::vector<std::string> ChatMarkers();

  // Feeds the next decoded piece; returns the text now known to be safe.
  // When a stop string appears, returns the text before it and stopped()
  // turns true; later input is ignored.
  std::string Push(std::string_view text);
  // End of generation: releases the held-back text.
  std::string Flush();

  bool stopped() const { return stopped_; }
  // The stop string that was hit (empty if none).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace talkie::tokenizer
