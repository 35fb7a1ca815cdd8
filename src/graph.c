/* graph.c — placeholder, see include/clgrad/graph.h. */
typedef int clg_placeholder_graph;
