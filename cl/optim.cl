/* optim.cl — optimizer updates: SGD with momentum, Adam/AdamW, gradient-norm clipping. */
