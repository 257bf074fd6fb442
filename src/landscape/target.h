/* target.h: what a landscape command looks at -- a network checkpoint (or
 * a training run's final one) or a toy landscape at a point -- and the
 * averaged geometry P to look at it with. `pothole slice`, `sharpness` and
 * `spectrum` load their target and P through these, so a checkpoint, a run
 * directory, a toy with --at and a preconditioner mean the same everywhere.
 */
#ifndef PH_LANDSCAPE_TARGET_H
#define PH_LANDSCAPE_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"
#include "nn/net.h"
#include "potholes/toys.h"
#include "precond/geom.h"

/* Exactly one of a network (ckpt, or run) and a toy (landscape). */
typedef struct ph_target_spec {
  const char *ckpt;      /* a network checkpoint */
  const char *run;       /* a run directory: RUN/ckpt/final.ckpt unless ckpt */
  const char *data;      /* the data spec; NULL: the checkpoint's own */
  size_t max_batch;      /* examples the network evaluates at once (≥ 1) */
  const char *landscape; /* a toy landscape spec (potholes/toys.h) */
  const char *at;        /* the toy's point: "X1,X2,..." (n strict decimals),
                            "pit" or "basin"; NULL: the origin */
} ph_target_spec;

typedef struct ph_target {
  ph_objective *obj;               /* the loss (owned) */
  double *theta;                   /* (obj->n) the point (owned) */
  const char *ckpt;                /* the checkpoint read, or NULL for a toy */
  uint32_t ckpt_crc;               /* its CRC-32 (ph_ckpt_crc) */
  char landscape[PH_TOY_SPEC_MAX]; /* the toy's canonical spec, or "" */
  ph_net_bundle net; /* a network target's checkpoint and data set */
  char *own_ckpt;    /* RUN/ckpt/final.ckpt when it came from run */
} ph_target;

/* Load spec into t. A malformed spec, toy spec or --at is PH_ERR_ARG (a
 * usage error); a missing or corrupt file keeps its own status. On failure
 * t is left empty (ph_target_free is safe). */
ph_status ph_target_load(const ph_target_spec *spec, ph_target *t,
                         ph_error *err);
void ph_target_free(ph_target *t);

/* The averaged geometry P of t from path: "basin" for a toy landscape (its
 * fitted P = diag(1 / basin curvature), ph_toy_basin_curvature), else a
 * .npy diagonal, a run directory or a .ckpt (ph_geom_load). g owns its
 * storage: release it with ph_geom_free. */
ph_status ph_target_geom_load(const ph_target *t, const char *path, ph_geom *g,
                              ph_error *err);

#endif
