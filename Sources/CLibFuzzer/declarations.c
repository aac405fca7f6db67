// The declarations in include/CLibFuzzer.h are all this target holds; the
// definitions come from compiler-rt when the harness is built with -sanitize=fuzzer.
#include "CLibFuzzer.h"
