// libzmq's C API (libzmq3-dev, 4.3.x without the DRAFT API). zmq.h is in /usr/include, so the
// module needs no pkgConfig (libzmq.pc's -isystem flag would make SwiftPM warn on every build).
#include <zmq.h>
