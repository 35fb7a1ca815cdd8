/* ref_ops.c — the reference table (one entry per op of clgrad/ops.def). */
#include "ref_ops.h"

const ref_fn ref_table[CLG_OP_COUNT] = {
#define CLG_OP(ID, name, nin, family) [CLG_OP_##ID] = ref_##name,
#include "clgrad/ops.def"
#undef CLG_OP
};
