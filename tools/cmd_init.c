/* cmd_init.c: `pothole init`: the initial checkpoint of a model on a data set.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "core/ckpt.h"
#include "nn/net.h"

#define CMD "init"

static void usage(void) {
  printf(
      "usage: pothole init --model SPEC --data SPEC [--seed S] --out "
      "FILE.ckpt\n\n"
      "Write the initial checkpoint (sections model, data, theta, seed).\n\n"
      "  --model SPEC   linear, mlp:H-H:ACT, cnn[:LAYERS[:ACT]], "
      "transformer:dDhHlL\n"
      "                 (ACT: tanh, relu, gelu, softplus, sigmoid, identity;\n"
      "                 LAYERS like c8k3-p2-c16k3-p2-d64: cCkK conv (C "
      "channels,\n"
      "                 odd K, same padding), pK max / aK average pooling, dH\n"
      "                 dense, rH residual block x + ACT(x Wᵀ + b) (also in "
      "mlp:,\n"
      "                 e.g. mlp:64-r64:tanh); 'cnn' alone is\n"
      "                 cnn:c8k3-p2-c16k3-p2:relu; mlp\n"
      "                 default ACT relu; on token data linear/mlp one-hot "
      "the\n"
      "                 tokens and predict every position; docs/formats.md)\n"
      "  --data SPEC    data set (see 'pothole data --help')\n"
      "  --seed S       initialisation and data-split seed (default 0)\n"
      "  --out FILE     checkpoint to write (required)\n"
      "  --help         this help\n");
}

int ph_cmd_init(int argc, char **argv) {
  static const struct option opts[] = {
      {"model", 1, 0, 'm'}, {"data", 1, 0, 'd'}, {"seed", 1, 0, 's'},
      {"out", 1, 0, 'o'},   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
  const char *model = NULL, *data = NULL, *out = NULL;
  uint64_t seed = 0;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'm': model = optarg; break;
    case 'd': data = optarg; break;
    case 's':
      if (ph_cli_u64(CMD, "--seed", optarg, &seed)) return 2;
      break;
    case 'o': out = optarg; break;
    case 'h': usage(); return 0;
    default: return ph_cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return ph_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!model || !data || !out)
    return ph_cli_usage(CMD, "--model, --data and --out are required");
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
  if (!s) s = ph_net_init_params(o, seed, theta, &err);
  if (!s && !(ck = ph_ckpt_new(&err))) s = PH_ERR_NOMEM;
  if (!s) s = ph_net_ckpt_put(ck, o, data, seed, theta, &err);
  if (!s) s = ph_ckpt_write(ck, out, &err);
  if (!s)
    printf("{\"model\": \"%s\", \"data\": \"%s\", \"n_params\": %zu, \"seed\": "
           "%llu, \"out\": \"%s\"}\n",
           model, data, o->n, (unsigned long long)seed, out);
  ph_ckpt_free(ck);
  free(theta);
  ph_objective_destroy(o);
  ph_dataset_free(d);
  return s ? ph_cli_fail(CMD, s, &err) : 0;
}
