/* ops_reduce.c — reductions: sum and mean over an axis or all, softmax and log_softmax over rows. */
#include "internal.h"

CLG_OP_UNAVAILABLE(sum)
CLG_OP_UNAVAILABLE(mean)
CLG_OP_UNAVAILABLE(softmax)
CLG_OP_UNAVAILABLE(log_softmax)
