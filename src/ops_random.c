/* ops_random.c — counter-based randomness (Philox4x32-10): uniform, normal, patch masks, dropout. */
#include "internal.h"

CLG_OP_UNAVAILABLE(random_uniform)
CLG_OP_UNAVAILABLE(random_normal)
CLG_OP_UNAVAILABLE(patch_mask)
CLG_OP_UNAVAILABLE(dropout)
