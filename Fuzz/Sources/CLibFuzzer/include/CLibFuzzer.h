// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): runs the fuzzing loop on `callback`
// with libFuzzer's command-line flags. A fuzz target calls it from its own main, because SwiftPM
// names an executable's entry point itself.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
