/* random.cl — counter-based randomness (Philox4x32-10): uniform, normal, patch masks, dropout. */
