// The engine's error type is the public talkie::Error (include/talkie/error.h),
// so what the internals throw is what library users catch.
#pragma once

#include "talkie/error.h"
