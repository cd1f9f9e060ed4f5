// Declarations only: the driver itself comes from libFuzzer (see include/CLibFuzzer.h).
#include "CLibFuzzer.h"
