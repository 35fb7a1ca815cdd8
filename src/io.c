/* io.c — placeholder, see include/clgrad/io.h. */
typedef int clg_placeholder_io;
