/* graph_dot.c — a graph as Graphviz DOT (fused and rewritten nodes marked). */
#include <stdio.h>

#include "graph_internal.h"

/* ---- insight ----------------------------------------------------------------------------------- */

clg_status clg_graph_dot(const clg_graph *g, FILE *f)
{
    clg_status st = clg__graph_check(g, "clg_graph_dot");
    if (st)
        return st;
    if (!f)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_dot: NULL file");
    fprintf(f, "digraph clgrad {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        char sb[96];
        clg_shape_str(&x->s, sb, sizeof sb);
        const char *kind = x->kind == GN_INPUT ? "input" : x->kind == GN_PARAM ? "param"
                         : x->kind == GN_CONST ? "const" : clg_op_name(x->rewritten ? x->orig_op : x->op);
        const char *shape = x->kind == GN_INPUT ? "ellipse" : x->kind == GN_PARAM ? "box"
                          : x->kind == GN_CONST ? "note" : "rect";
        fprintf(f, "  n%d [label=\"%s\\n%s %s\", shape=%s", m, x->name, kind, sb,
                m == g->loss ? "doublecircle" : shape);
        if (x->kind == GN_PARAM)
            fprintf(f, ", style=\"%s\", fillcolor=\"#dbe8ff\"",
                    clg__graph_is_frozen(g, x->group) ? "filled,dashed" : "filled");
        else if (x->kind == GN_OP && (x->fused || x->rewritten))
            fprintf(f, ", style=\"rounded,dashed\", xlabel=\"%s\"", x->fused ? "fused" : clg_op_name(x->op));
        else if (x->kind == GN_OP)
            fprintf(f, ", style=rounded");
        fprintf(f, "];\n");
    }
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        for (int i = 0; i < (x->rewritten ? x->orig_nin : x->nin); i++)
            fprintf(f, "  n%d -> n%d;\n", x->rewritten ? x->orig_in[i] : x->in[i], m);
    }
    fprintf(f, "}\n");
    if (ferror(f))
        return clg__fail(CLG_ERR_IO, "clg_graph_dot: write failed");
    return CLG_OK;
}
