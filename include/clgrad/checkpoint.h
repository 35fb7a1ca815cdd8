/* clgrad/checkpoint.h — save and load a graph's parameters (and optimizer state) as safetensors.
 *
 * A checkpoint holds every parameter under its graph name (f32, the graph's shape), the optimizer
 * state under "<name>.velocity", "<name>.adam_m", "<name>.adam_v" when the graph has one, and
 * metadata: "format" = "clgrad-checkpoint-1", "step" = the graph's step count, plus whatever
 * key/value pairs the caller passes.  PyTorch/numpy users can read it with any safetensors
 * reader.  Writes go to a temp file that is renamed into place.
 */
#ifndef CLGRAD_CHECKPOINT_H
#define CLGRAD_CHECKPOINT_H

#include "clgrad/graph.h"
#include "clgrad/io.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

/* meta_kv: NULL or key, value, ..., NULL.  Needs a planned graph (parameters live on the device). */
clg_status clg_checkpoint_save(clg_graph *g, const char *path, const char *const *meta_kv);

enum {
    CLG_LOAD_PARTIAL = 1,     /* params absent from the file keep their values (e.g. a new head) */
    CLG_LOAD_OPTIM_STATE = 2, /* also restore optimizer state and the step count (resume) */
};

/* Load parameters by name.  A tensor whose shape or dtype differs from the graph's param is
 * CLG_ERR_SHAPE naming both; without CLG_LOAD_PARTIAL a param missing from the file is
 * CLG_ERR_FORMAT naming it.  Tensors in the file that the graph lacks are ignored.  Nothing is
 * written to the device unless every check passes.  *n_loaded (may be NULL) gets the number of
 * params loaded. */
clg_status clg_checkpoint_load(clg_graph *g, const char *path, int flags, int *n_loaded);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
