// The names of the vendors' headers, compiled as C++11 (header_names.c).
#include "header_names.c"
