/* ops_embed.c — representation ops: embedding gather/scatter-add, l2_normalize, similarity, contrastive loss, attention lookup. */
#include "internal.h"

CLG_OP_UNAVAILABLE(embedding)
CLG_OP_UNAVAILABLE(l2_normalize)
CLG_OP_UNAVAILABLE(similarity)
CLG_OP_UNAVAILABLE(similarity_matrix)
CLG_OP_UNAVAILABLE(contrastive_loss)
CLG_OP_UNAVAILABLE(attention_lookup)
