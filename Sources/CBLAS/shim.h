// OpenBLAS's CBLAS interface (libopenblas-dev). openblas_set_num_threads and
// openblas_get_corename are declared in the same header.
#include <cblas.h>
