/* cmd_init.c: `pothole init`: the initial checkpoint of a model on a data set.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "core/ckpt.h"
#include "nn/net.h"

#define CMD "init"

static const char MODEL_HELP[] =
    "linear, mlp:H-H:ACT, cnn[:LAYERS[:ACT]], transformer:dDhHlL\n"
    "(ACT: tanh, relu, gelu, softplus, sigmoid, identity;\n"
    "LAYERS like c8k3-p2-c16k3-p2-d64: cCkK conv (C channels,\n"
    "odd K, same padding), pK max / aK average pooling, dH\n"
    "dense, rH residual block x + ACT(x Wᵀ + b) (also in mlp:,\n"
    "e.g. mlp:64-r64:tanh); 'cnn' alone is\n"
    "cnn:c8k3-p2-c16k3-p2:relu; mlp default ACT relu; on token\n"
    "data linear/mlp one-hot the tokens and predict every\n"
    "position; docs/formats.md)";

int ph_cmd_init(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *out = NULL;
  uint64_t seed = 0;
  const ph_opt opts[] = {{"model", "SPEC", PH_OPT_STRING, &model,
                          .help = MODEL_HELP, .flags = PH_OPT_REQUIRED},
                         {"data", "SPEC", PH_OPT_STRING, &data,
                          .help = "data set (see 'pothole data info --help')",
                          .flags = PH_OPT_REQUIRED},
                         PH_OPT_SEED(&seed),
                         PH_OPT_OUT_FILE(&out),
                         {0}};
  const ph_cli_spec spec = {
      CMD,
      "--model SPEC --data SPEC [--seed S] --out FILE.ckpt",
      "Write the initial checkpoint (sections model, data, theta, seed).",
      opts,
      0,
      0};
  int rc = ph_cli_parse(&spec, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.seed = seed;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  ph_ckpt *ck = NULL;
  double *theta = NULL;
  ph_status s = ph_dataset_load(data, &dopt, &d, &err);
  if (!s) s = ph_net_create(model, d, 64, &o, &err);
  if (!s && !(theta = malloc(o->n * sizeof *theta)))
    s = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
  if (!s) {
    /* A bar on a terminal: drawing a 15000x15000 layer takes a minute. */
    ph_progress pg;
    ph_progress_start(&pg, "init", o->n, -1);
    s = ph_net_init_params_progress(o, seed, theta, &pg, &err);
    if (!s) ph_progress_finish(&pg);
  }
  if (!s) s = ph_ckpt_create(&ck, &err);
  if (!s) s = ph_net_ckpt_put(ck, o, data, seed, theta, &err);
  if (!s) s = ph_ckpt_write(ck, out, &err);
  if (!s)
    printf("{\"model\": \"%s\", \"data\": \"%s\", \"n_params\": %zu, \"seed\": "
           "%llu, \"out\": \"%s\"}\n",
           model, data, o->n, (unsigned long long)seed, out);
  ph_ckpt_free(ck);
  free(theta);
  ph_objective_free(o);
  ph_dataset_free(d);
  return s ? ph_cli_fail(CMD, s, &err) : 0;
}
