/* embed.cl — representation ops: embedding gather/scatter-add, l2_normalize, similarity, contrastive loss, attention lookup. */
