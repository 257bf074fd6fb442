/* net_int.h: the sequential network behind ph_net_create (internal). */
#ifndef PH_NN_NET_INT_H
#define PH_NN_NET_INT_H

#include "core/progress.h"
#include "nn/net.h"
#include "nn/seq_int.h"

/* Parse an MLP/CNN spec without building it (PH_ERR_ARG when malformed). */
ph_status nn_spec_check(const char *spec, ph_error *err);
ph_status nn_build(nn_net *n, const char *spec, const ph_dataset *d,
                   size_t max_batch, ph_error *err);
ph_status nn_alloc_buffers(nn_net *n, ph_error *err);
void nn_free(nn_net *n);
/* pg (may be NULL) counts parameters drawn. */
void nn_init_params(const nn_net *n, uint64_t seed, double *theta,
                    ph_progress *pg);
const char *nn_act_name(nn_act a);
/* The nn_net behind a network objective made by ph_net_create (NULL for
 * other objectives, transformers included). */
nn_net *nn_of(const ph_objective *o);

/* The products of n's plane (net_obj.c, plane_prepare), NULL without
 * one: tests see whether a clone shares them. */
const double *nn_plane_products(const nn_net *n);
/* Frees the parallel workers and partials (back to the classic loop). */
void nn_par_free(nn_net *n);

#endif
