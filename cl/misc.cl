/* misc.cl — ops without backward: argmax, accuracy, fill, copy, transpose. */
