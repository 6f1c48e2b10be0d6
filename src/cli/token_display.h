// How token bytes are shown: escaped for the lens table, and as plain
// printable ASCII for the bitmap font of the heat map.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace talkie::cli {

// Valid UTF-8 kept as is; \n \r \t \\ \" escaped; other control bytes and
// bytes of invalid UTF-8 (a token can end inside a character) as \xNN.
std::string EscapeTokenText(std::string_view bytes);

// At most `max_chars` printable ASCII characters: newline / CR / tab as the
// two characters \n \r \t, each non-ASCII character (or invalid byte) as one
// '?', other control bytes as '?'. Cut at max_chars.
std::string AsciiTokenLabel(std::string_view bytes, size_t max_chars);

}  // namespace talkie::cli
