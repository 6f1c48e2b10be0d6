// TALKIE_API marks what libtalkie exports. Everything else in the library is
// built with hidden visibility, so only the public API is part of the ABI.
#pragma once

#if defined(_WIN32)
#define TALKIE_API
#else
#define TALKIE_API __attribute__((visibility("default")))
#endif
