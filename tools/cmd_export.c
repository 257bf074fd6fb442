/* cmd_export.c: `pothole export`: a checkpoint as one .npy per parameter
 * tensor, theta.npy and model.json (architecture, loss, parameter names,
 * shapes and offsets, in order), and with --data the evaluation inputs and
 * labels, so any framework can rebuild the same model and loss
 * (docs/formats.md; tests/bench/products_torch.py does it in PyTorch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/ckpt.h"
#include "core/json.h"
#include "core/npy.h"
#include "nn/net.h"

#define CMD "export"

int ph_cmd_export(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *out = NULL;
  size_t n_ex = PH_CLI_DEFAULT_N;
  int split = 0, rc = 0, n_given = 0;
  const ph_opt opts[] = {
      PH_OPT_CKPT_REQUIRED(&ckpt),
      {"data", "SPEC", PH_OPT_STRING, &data,
       .help = "data set for inputs/labels (default: the checkpoint's)"},
      {"n", "N", PH_OPT_SIZE, &n_ex, .lo = 1, .hi = 1e9,
       .help = "export the first N examples of the split (with --n or\n"
               "--data; neither: no inputs/labels)",
       .seen = &n_given},
      PH_OPT_SPLIT(&split),
      PH_OPT_OUT_DIR(&out),
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "--ckpt FILE --out DIR [--data SPEC] [--n N] [--split S]",
      "Writes DIR/model.json, DIR/<param>.npy per tensor, DIR/theta.npy and, "
      "with\n--data or --n, DIR/inputs.npy (float64 [N, ...input_shape], "
      "after\npreprocessing) and DIR/labels.npy (int64 [N] or [N, T]; float64 "
      "targets\n[N, outputs] for regression).",
      opts,
      0,
      0};
  if ((rc = ph_cli_parse(&spec, argc, argv, NULL, NULL)) >= 0) return rc;
  rc = 0;
  ph_error err = {0};
  ph_net_bundle b;
  ph_data_options dopt = ph_data_options_default();
  ph_status s = ph_net_bundle_load(ckpt, data, &dopt, 64, &b, &err);
  if (s) return ph_cli_fail(CMD, s, &err);
  ph_objective *o = b.obj;
  const ph_dataset *d = b.data;
  ph_outset outs = {0};
  char path[4096];
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "format", "pothole-model");
  ph_json_add_number(j, "version", 1);
  cJSON_AddStringToObject(j, "spec", ph_net_spec(o));
  /* the data set and its seed, so `pothole import` rebuilds the same run */
  cJSON_AddStringToObject(j, "data", d->spec);
  size_t n_ds = 0;
  const uint64_t *ds = ph_ckpt_get_u64(b.ck, "data_seed", &n_ds);
  if (ds && n_ds == 1) ph_json_add_number(j, "data_seed", (double)ds[0]);
  double shape[3];
  for (int i = 0; i < d->in_ndim; i++) shape[i] = (double)d->in_shape[i];
  cJSON_AddItemToObject(j, "input_shape",
                        ph_json_array(shape, (size_t)d->in_ndim));
  if (d->task == PH_TASK_REGRESS)
    ph_json_add_number(j, "n_outputs", (double)d->n_out);
  else
    ph_json_add_number(j, "n_classes", (double)d->n_classes);
  cJSON_AddStringToObject(
      j, "loss", d->task == PH_TASK_REGRESS ? "mse" : "softmax_cross_entropy");
  if (d->task == PH_TASK_SEQUENCE) ph_json_add_number(j, "ignore_index", -1);
  cJSON_AddStringToObject(j, "reduction", "mean");
  cJSON_AddItemToObject(j, "layers", ph_net_describe_layers(o));
  cJSON *ps = cJSON_AddArrayToObject(j, "params");
  if ((s = ph_mkdir_p(out, &err))) goto fail;
  for (size_t i = 0; i < o->n_blocks; i++) {
    const ph_block *bl = &o->blocks[i];
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", bl->name);
    double sh[PH_BLOCK_MAX_DIM];
    for (int k = 0; k < bl->ndim; k++) sh[k] = (double)bl->shape[k];
    cJSON_AddItemToObject(p, "shape", ph_json_array(sh, (size_t)bl->ndim));
    ph_json_add_number(p, "offset", (double)bl->offset);
    cJSON_AddItemToArray(ps, p);
    snprintf(path, sizeof path, "%s/%s.npy", out, bl->name);
    if ((s = ph_npy_write(path, b.theta + bl->offset, bl->ndim, bl->shape,
                          &err)))
      goto fail;
    ph_outset_add(&outs, path);
  }
  snprintf(path, sizeof path, "%s/theta.npy", out);
  if ((s = ph_npy_write_vec(path, b.theta, o->n, &err))) goto fail;
  ph_outset_add(&outs, path);
  if (data || n_given) {
    size_t avail = d->n[split], N = n_ex < avail ? n_ex : avail;
    size_t xs[4] = {N, d->in_shape[0], d->in_shape[1], d->in_shape[2]};
    snprintf(path, sizeof path, "%s/inputs.npy", out);
    if ((s = ph_npy_write(path, d->x[split], 1 + d->in_ndim, xs, &err)))
      goto fail;
    ph_outset_add(&outs, path);
    snprintf(path, sizeof path, "%s/labels.npy", out);
    if (d->task == PH_TASK_REGRESS) {
      size_t ts[2] = {N, d->n_out};
      s = ph_npy_write(path, d->t[split], 2, ts, &err);
    } else {
      int64_t *lab = malloc((N * d->n_targets + 1) * sizeof *lab);
      if (!lab) {
        s = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
        goto fail;
      }
      for (size_t i = 0; i < N * d->n_targets; i++) lab[i] = d->y[split][i];
      size_t ls[2] = {N, d->n_targets};
      s = ph_npy_write_i64(path, lab, d->n_targets > 1 ? 2 : 1, ls, &err);
      free(lab);
    }
    if (s) goto fail;
    ph_outset_add(&outs, path);
  }
  snprintf(path, sizeof path, "%s/model.json", out);
  if ((s = ph_json_write_file(path, j, &err))) goto fail;
  printf("{\"out\": \"%s\", \"n_params\": %zu, \"tensors\": %zu}\n", out, o->n,
         o->n_blocks);
  goto done;
fail:
  ph_outset_rollback(&outs);
  rc = ph_cli_fail(CMD, s, &err);
done:
  ph_outset_free(&outs);
  cJSON_Delete(j);
  ph_net_bundle_free(&b);
  return rc;
}
