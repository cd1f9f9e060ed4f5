// libsodium's C API (libsodium-dev, which libzmq3-dev pulls in: libzmq links it for CURVE). sodium.h is in
// /usr/include, so the module needs no pkgConfig.
#include <sodium.h>
