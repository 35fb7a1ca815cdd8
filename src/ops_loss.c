/* ops_loss.c — losses: fused cross-entropy with integer labels, mse, masked mse. */
#include "internal.h"

CLG_OP_UNAVAILABLE(cross_entropy)
CLG_OP_UNAVAILABLE(mse)
CLG_OP_UNAVAILABLE(masked_mse)
