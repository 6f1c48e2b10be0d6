// StopFilter: cuts streamed, decoded text at the first occurrence of a stop
// string (the chat markers of spec §4 plus any user stop strings). It holds
// back the last (longest stop length - 1) characters until they cannot be
// the start of a stop string, so a marker split across pieces never leaks.
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
  size_t hold_chars_ = 0;  // Longest stop string in characters, minus one.
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace talkie::tokenizer
