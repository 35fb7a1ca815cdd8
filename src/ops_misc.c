/* ops_misc.c — ops without backward: argmax, accuracy, fill, copy, transpose. */
#include "internal.h"

CLG_OP_UNAVAILABLE(argmax)
CLG_OP_UNAVAILABLE(accuracy)
CLG_OP_UNAVAILABLE(fill)
CLG_OP_UNAVAILABLE(copy)
CLG_OP_UNAVAILABLE(transpose)
