#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (compiler-rt, -sanitize=fuzzer): the fuzz harness calls
// it from its own entry point, because SwiftPM links every executable with
// `main` aliased to the module's entry point rather than libFuzzer's main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
