/* riccati_int.h: internal split of riccati.c (the MLP recursion lives in
 * riccati_mlp.c). Not installed, not for other modules. */
#ifndef PH_OPTIM_RICCATI_INT_H
#define PH_OPTIM_RICCATI_INT_H

#include "optim/riccati.h"

ph_status ph_riccati_mlp_step(ph_objective *obj, const double *theta,
                              const ph_batch *batch, ph_metric metric,
                              double damping, double *step, ph_error *err);

#endif
