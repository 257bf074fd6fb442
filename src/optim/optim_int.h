/* optim_int.h: the optimiser object (internal to src/optim). */
#ifndef PH_OPTIM_INT_H
#define PH_OPTIM_INT_H

#include "optim/optim.h"

typedef enum opt_kind {
  OPT_SGD = 0,
  OPT_ADAMW,
  OPT_SAM,
  OPT_ASAM,
  OPT_FISHER_SAM,
  OPT_FSAM,
  OPT_LLQR,
  OPT_LLQR_SAM,
  OPT_COUNT
} opt_kind;

extern const char *const PH_OPTIM_NAMES[OPT_COUNT];

struct ph_optim {
  ph_optim_config cfg;
  opt_kind kind;
  size_t n;
  const ph_block *blocks; /* borrowed from the objective at creation */
  size_t n_blocks;
  double *m, *v;         /* (n) momentum / Adam moments */
  double *gbar;          /* (n) FSAM gradient EMA */
  double *g, *d, *t, *e; /* (n) workspaces: gradient, direction, θ+ε, ε */
  uint64_t t_step;       /* outer steps taken */
  uint64_t n_refresh;    /* preconditioner refreshes done */
  uint64_t ema_warm;     /* 1: P came from elsewhere (set_precond) and is a
                            full-weight EMA state: no bias correction */
  ph_precond *P;         /* EMA preconditioner (llqr, llqr-sam) */
  ph_precond *Pnew;      /* inner-loop iterate */
  double *ib, *im, *r, *delta; /* LLQR inner-loop workspaces (flat size) */
  double *ktmp;                /* (max rows·cols over Kronecker blocks) */
  double *w;                   /* (n) m-sharpness: one chunk's gradient */
  size_t *midx;                /* (midx_cap) m-sharpness: one chunk's indices */
  size_t midx_cap;
};

/* LLQR refresh at θ on batch b (llqr.c). */
ph_status ph_llqr_refresh(ph_optim *o, const double *theta, ph_objective *obj,
                          const ph_batch *b, ph_step_info *info, ph_error *err);

#endif
