/* clgrad/clgrad.h — umbrella header: include this to use clgrad. */
#ifndef CLGRAD_CLGRAD_H
#define CLGRAD_CLGRAD_H

#define CLGRAD_VERSION_MAJOR 0
#define CLGRAD_VERSION_MINOR 1
#define CLGRAD_VERSION_PATCH 0
#define CLGRAD_VERSION_STRING "0.1.0"

#include "clgrad/status.h"
#include "clgrad/device.h"
#include "clgrad/program.h"
#include "clgrad/tensor.h"
#include "clgrad/ops.h"
#include "clgrad/optim.h"
#include "clgrad/io.h"
#include "clgrad/graph.h"
#include "clgrad/models.h"
#include "clgrad/checkpoint.h"
#include "clgrad/sgns.h"
#include "clgrad/dist.h"

#endif
