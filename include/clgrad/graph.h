/* clgrad/graph.h — the graph runtime: build once, derive gradients, plan memory, run steps. */
#ifndef CLGRAD_GRAPH_H
#define CLGRAD_GRAPH_H

#include "clgrad/ops.h"
#include "clgrad/optim.h"

#endif
