/* loss.cl — losses: fused cross-entropy with integer labels, mse, masked mse. */
