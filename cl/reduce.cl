/* reduce.cl — reductions: sum and mean over an axis or all, softmax and log_softmax over rows. */
