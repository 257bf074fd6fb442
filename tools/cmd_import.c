/* cmd_import.c: `pothole import DIR --out FILE.ckpt`: the model.json +
 * one-.npy-per-tensor layout that `pothole export` writes (and that
 * tools/pothole_from_torch.py writes from a PyTorch nn.Sequential), turned
 * into a checkpoint (docs/formats.md).
 *
 * Everything is checked before the checkpoint is written, so a bad
 * directory leaves nothing: the layer types (each one the engine has), the
 * model the spec builds on the data set (its layer list, input shape,
 * classes and loss must equal model.json's, so the checkpoint computes what
 * the description says), the parameter table (names, shapes, offsets in
 * the engine's order) and every tensor file (shape as declared, finite
 * float values). θ is assembled from the tensors bit for bit; a theta.npy,
 * when present, must agree with them.
 */
#include <math.h>
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

#define CMD "import"

/* Every layer type model.json may name (export's vocabulary). */
static const char *const k_layer_types[] = {
    "dense",          "conv2d",   "maxpool", "avgpool",   "flatten",
    "residual_dense", "one_hot",  "reshape", "embedding", "transformer_block",
    "layernorm",      "tanh",     "relu",    "gelu",      "softplus",
    "sigmoid",        "identity", NULL};

static int known_type(const char *t) {
  for (size_t i = 0; k_layer_types[i]; i++)
    if (strcmp(t, k_layer_types[i]) == 0) return 1;
  return 0;
}

/* A JSON value as a short one-line text for messages. */
static void brief(const cJSON *v, char *buf, size_t size) {
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(buf, size, "%s", s ? s : "nothing");
  if (s && strlen(s) >= size && size > 4) strcpy(buf + size - 4, "...");
  free(s);
}

/* "[a, b, c]" of a shape. */
static void shape_text(int ndim, const size_t *shape, char *buf, size_t size) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < ndim && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? ", " : "",
                             shape[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* The model.json description against the objective the spec built. */
static ph_status check_model(const char *mj, const cJSON *root,
                             const ph_objective *o, const ph_dataset *d,
                             ph_error *err) {
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
  if (!cJSON_IsArray(layers))
    return ph_error_set(err, PH_ERR_FORMAT, "%s: no \"layers\" array", mj);
  int i = 0;
  const cJSON *l;
  cJSON_ArrayForEach(l, layers) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "type");
    if (!cJSON_IsString(t))
      return ph_error_set(err, PH_ERR_FORMAT, "%s: layers[%d] has no \"type\"",
                          mj, i);
    if (!known_type(t->valuestring))
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: layers[%d] has type '%s', which pothole's "
                          "engine lacks",
                          mj, i, t->valuestring);
    i++;
  }
  /* what the spec builds on this data set must be what model.json says */
  /* printed and parsed back: the description holds exact numbers as raw
   * text, a file read holds plain numbers (cJSON_Compare tells them apart) */
  cJSON *desc = ph_net_describe_layers(o);
  char *text = desc ? cJSON_PrintUnformatted(desc) : NULL;
  cJSON *want = text ? cJSON_Parse(text) : NULL;
  cJSON_Delete(desc);
  free(text);
  if (!want) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  int n_want = cJSON_GetArraySize(want), n_got = cJSON_GetArraySize(layers);
  ph_status st = PH_OK;
  for (int k = 0; !st && k < (n_want > n_got ? n_want : n_got); k++) {
    const cJSON *a = cJSON_GetArrayItem(want, k),
                *b = cJSON_GetArrayItem(layers, k);
    if (!a || !b || !cJSON_Compare(a, b, 1)) {
      char ta[160], tb[160];
      brief(a, ta, sizeof ta);
      brief(b, tb, sizeof tb);
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: layers[%d] is %s, but spec '%s' on '%s' builds "
                        "%s",
                        mj, k, tb, ph_net_spec(o), d->spec, ta);
    }
  }
  cJSON_Delete(want);
  if (st) return st;
  /* input shape, outputs, loss */
  const cJSON *is = cJSON_GetObjectItemCaseSensitive(root, "input_shape");
  int ok = cJSON_IsArray(is) && cJSON_GetArraySize(is) == d->in_ndim;
  for (int k = 0; ok && k < d->in_ndim; k++) {
    const cJSON *v = cJSON_GetArrayItem(is, k);
    ok = cJSON_IsNumber(v) && v->valuedouble == (double)d->in_shape[k];
  }
  if (!ok) {
    char tb[96], ta[64];
    brief(is, tb, sizeof tb);
    shape_text(d->in_ndim, d->in_shape, ta, sizeof ta);
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: input_shape %s, but data '%s' has %s", mj, tb,
                        d->spec, ta);
  }
  int regress = d->task == PH_TASK_REGRESS;
  const char *key = regress ? "n_outputs" : "n_classes";
  double want_out = (double)(regress ? d->n_out : d->n_classes), got_out;
  PH_TRY(ph_json_get_number(root, key, mj, &got_out, err));
  if (got_out != want_out)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %s %.17g, but data '%s' has %g", mj, key, got_out,
                        d->spec, want_out);
  const char *loss;
  PH_TRY(ph_json_get_string(root, "loss", mj, &loss, err));
  const char *want_loss = regress ? "mse" : "softmax_cross_entropy";
  if (strcmp(loss, want_loss) != 0)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: loss '%s', but pothole computes '%s' on '%s'", mj,
                        loss, want_loss, d->spec);
  /* the parameter table, in the engine's order */
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "params");
  if (!cJSON_IsArray(ps) || cJSON_GetArraySize(ps) != (int)o->n_blocks)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: \"params\" must list %zu tensors (the model "
                        "has %zu)",
                        mj, o->n_blocks, o->n_blocks);
  for (size_t k = 0; k < o->n_blocks; k++) {
    const ph_block *bl = &o->blocks[k];
    const cJSON *p = cJSON_GetArrayItem(ps, (int)k);
    const char *name;
    double off;
    char where[4200];
    snprintf(where, sizeof where, "%s params[%zu]", mj, k);
    PH_TRY(ph_json_get_string(p, "name", where, &name, err));
    PH_TRY(ph_json_get_number(p, "offset", where, &off, err));
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(p, "shape");
    int same = cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == bl->ndim;
    for (int q = 0; same && q < bl->ndim; q++) {
      const cJSON *v = cJSON_GetArrayItem(sh, q);
      same = cJSON_IsNumber(v) && v->valuedouble == (double)bl->shape[q];
    }
    if (strcmp(name, bl->name) != 0 || !same || off != (double)bl->offset) {
      char ta[64], tb[96];
      shape_text(bl->ndim, bl->shape, ta, sizeof ta);
      brief(sh, tb, sizeof tb);
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: params[%zu] is '%s' %s at %.17g, the model has "
                          "'%s' %s at %zu",
                          mj, k, name, tb, off, bl->name, ta, bl->offset);
    }
  }
  return PH_OK;
}

/* θ from DIR/<name>.npy, each of the block's shape, finite. */
static ph_status read_tensors(const char *dir, const ph_objective *o,
                              double *theta, ph_error *err) {
  for (size_t k = 0; k < o->n_blocks; k++) {
    const ph_block *bl = &o->blocks[k];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", dir, bl->name);
    ph_npy a = {0};
    PH_TRY(ph_npy_read(path, &a, err));
    ph_status st = PH_OK;
    int same = a.ndim == bl->ndim && a.size == bl->size;
    for (int q = 0; same && q < bl->ndim; q++)
      same = a.shape[q] == bl->shape[q];
    if (!same) {
      char ta[64], tb[64];
      shape_text(a.ndim, a.shape, ta, sizeof ta);
      shape_text(bl->ndim, bl->shape, tb, sizeof tb);
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: shape %s disagrees with model.json %s", path, ta,
                        tb);
    } else if (a.dtype[1] != 'f') {
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: dtype %s, expected float64 (<f8)", path, a.dtype);
    }
    for (size_t i = 0; !st && i < a.size; i++)
      if (!isfinite(a.data[i]))
        st = ph_error_set(err, PH_ERR_FORMAT, "%s: entry %zu is not finite",
                          path, i);
    if (!st) memcpy(theta + bl->offset, a.data, bl->size * sizeof(double));
    ph_npy_free(&a);
    if (st) return st;
  }
  /* an exported directory also has theta.npy: it must say the same */
  char path[4096];
  snprintf(path, sizeof path, "%s/theta.npy", dir);
  if (!ph_path_exists(path)) return PH_OK;
  ph_npy t = {0};
  PH_TRY(ph_npy_read(path, &t, err));
  ph_status st = PH_OK;
  if (t.ndim != 1 || t.size != o->n)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: expected shape [%zu]", path,
                      o->n);
  for (size_t i = 0; !st && i < o->n; i++)
    if (memcmp(&t.data[i], &theta[i], sizeof(double)) != 0)
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: entry %zu disagrees with the tensor files", path,
                        i);
  ph_npy_free(&t);
  return st;
}

int ph_cmd_import(int argc, char **argv) {
  const char *out = NULL, *data = NULL;
  uint64_t seed = 0;
  int seed_given = 0;
  const ph_opt opts[] = {
      {"data", "SPEC", PH_OPT_STRING, &data,
       .help = "data set the model is for (default: model.json's \"data\")"},
      {"seed", "S", PH_OPT_U64, &seed, .seen = &seed_given,
       .help = "data seed stored in the checkpoint (default: model.json's\n"
               "\"data_seed\", else 0)",
       .flags = PH_OPT_NO_DEFAULT},
      PH_OPT_OUT_FILE(&out),
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "DIR --out FILE.ckpt [options]",
      "Turn a model directory into a checkpoint: DIR/model.json (the\n"
      "description `pothole export` writes) and one DIR/<name>.npy per\n"
      "parameter tensor, e.g. from tools/pothole_from_torch.py (a PyTorch\n"
      "nn.Sequential). The spec in model.json is built on the data set and\n"
      "must give exactly the layers, shapes and loss model.json lists;\n"
      "anything else is refused naming the file and the problem, and no\n"
      "checkpoint is written.",
      opts,
      1,
      1};
  char **args;
  size_t nargs;
  int rc = ph_cli_parse(&spec, argc, argv, &args, &nargs);
  if (rc >= 0) return rc;
  const char *dir = args[0];
  ph_error err = {0};
  char mj[4096];
  snprintf(mj, sizeof mj, "%s/model.json", dir);
  cJSON *root = NULL;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  ph_ckpt *ck = NULL;
  double *theta = NULL;
  ph_status s = ph_json_read_file(mj, &root, &err);
  const char *fmt = NULL, *mspec = NULL;
  double version = 0;
  if (!s) s = ph_json_get_string(root, "format", mj, &fmt, &err);
  if (!s && strcmp(fmt, "pothole-model") != 0)
    s = ph_error_set(&err, PH_ERR_FORMAT,
                     "%s: format '%s', expected 'pothole-model'", mj, fmt);
  if (!s) s = ph_json_get_number(root, "version", mj, &version, &err);
  if (!s && version != 1)
    s = ph_error_set(&err, PH_ERR_FORMAT, "%s: version %g, expected 1", mj,
                     version);
  if (!s) s = ph_json_get_string(root, "spec", mj, &mspec, &err);
  if (s) goto done;
  if (!data) {
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsString(dj)) {
      rc = ph_cli_usage(CMD, "give --data SPEC (%s names no data set)", mj);
      goto done;
    }
    data = dj->valuestring;
  }
  if (!seed_given) {
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(root, "data_seed");
    if (cJSON_IsNumber(sj) && sj->valuedouble >= 0 &&
        sj->valuedouble < 9007199254740992.0 &&
        sj->valuedouble == floor(sj->valuedouble))
      seed = (uint64_t)sj->valuedouble;
  }
  ph_data_options dopt = ph_data_options_default();
  dopt.seed = seed;
  if ((s = ph_dataset_load(data, &dopt, &d, &err))) goto done;
  if ((s = ph_net_create(mspec, d, 64, &o, &err))) {
    char msg[PH_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err.msg);
    ph_error_clear(&err);
    /* a spec in a file is bad input (exit 1), not a usage error */
    s = ph_error_set(&err, PH_ERR_FORMAT, "%s: spec '%s': %s", mj, mspec, msg);
    goto done;
  }
  if ((s = check_model(mj, root, o, d, &err))) goto done;
  if (!(theta = malloc((o->n ? o->n : 1) * sizeof *theta))) {
    s = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  if ((s = read_tensors(dir, o, theta, &err))) goto done;
  if ((s = ph_ckpt_create(&ck, &err))) goto done;
  if ((s = ph_net_ckpt_put(ck, o, data, seed, theta, &err))) goto done;
  if ((s = ph_ckpt_write(ck, out, &err))) goto done;
  printf("{\"out\": \"%s\", \"model\": \"%s\", \"data\": \"%s\", "
         "\"n_params\": %zu, \"tensors\": %zu}\n",
         out, mspec, data, o->n, o->n_blocks);
done:
  ph_ckpt_free(ck);
  free(theta);
  ph_objective_free(o);
  ph_dataset_free(d);
  cJSON_Delete(root);
  if (rc >= 0) return rc;
  return s ? ph_cli_fail(CMD, s, &err) : 0;
}
