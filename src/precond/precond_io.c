/* precond_io.c: saving and loading preconditioners. A run directory holds
 * precond.npy (the flat values: u for diagonal blocks, A then B for
 * Kronecker blocks, in block order) and precond.json ({"kind": "diag" or
 * "kron", "n", "flat_size"}); a checkpoint holds sections "precond" and
 * "precond.kind"; a bare .npy of length n is a diagonal. */
#include <string.h>
#include <stdlib.h>

#include "core/afile.h"
#include "core/ckpt.h"
#include "core/json.h"
#include "core/npy.h"
#include "precond/precond.h"

static const char *const KIND_NAMES[] = {"identity", "diag", "kron"};

ph_status ph_precond_save(const ph_precond *p, const char *dir, ph_error *err) {
  size_t len = ph_precond_flat_size(p);
  double *flat = malloc((len ? len : 1) * sizeof *flat);
  if (!flat) return ph_error_set(err, PH_ERR_NOMEM, "precond: out of memory");
  ph_precond_to_flat(p, flat);
  char *npy = ph_path_join(dir, "precond.npy", err),
       *js = ph_path_join(dir, "precond.json", err);
  ph_status s =
      (npy && js) ? ph_npy_write_vec(npy, flat, len, err) : PH_ERR_NOMEM;
  if (s == PH_OK) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", KIND_NAMES[ph_precond_get_kind(p)]);
    ph_json_add_number(o, "n", (double)ph_precond_n(p));
    ph_json_add_number(o, "flat_size", (double)len);
    ph_json_add_stamp(o);
    s = ph_json_write_file(js, o, err);
    cJSON_Delete(o);
  }
  free(npy);
  free(js);
  free(flat);
  return s;
}

static ph_status from_flat(const double *v, size_t len, ph_precond_kind kind,
                           size_t n, size_t n_blocks, const ph_block *blocks,
                           const char *where, ph_precond **out, ph_error *err) {
  *out = NULL;
  /* Reject NaN/Inf (and negative diagonal entries) here, where the file is
   * known: downstream they would be clamped to the eigenvalue floor and give
   * the results of a different preconditioner without a word. */
  PH_TRY(ph_values_check(
      v, len, where,
      kind == PH_PRECOND_KRON ? PH_NPY_FINITE : PH_NPY_FINITE | PH_NPY_NONNEG,
      "a preconditioner", err));
  if (kind != PH_PRECOND_KRON) {
    if (len != n)
      return ph_error_set(
          err, PH_ERR_FORMAT,
          "%s: diagonal preconditioner has %zu entries, the model has "
          "%zu parameters",
          where, len, n);
    return ph_precond_diag_create(n, v, out, err);
  }
  ph_precond *p;
  PH_TRY(ph_precond_create(n, n_blocks, blocks, PH_PRECOND_KRON, &p, err));
  ph_status st = ph_precond_from_flat(p, v, len, err);
  if (st != PH_OK) {
    ph_error_prefix(err, "%s: ", where);
    ph_precond_free(p);
    return st;
  }
  *out = p;
  return PH_OK;
}

ph_status ph_precond_read(const char *path, size_t n, size_t n_blocks,
                          const ph_block *blocks, ph_precond **out,
                          ph_error *err) {
  *out = NULL;
  ph_status st;
  size_t plen = strlen(path);
  if (ph_is_dir(path)) {
    char *npy = ph_path_join(path, "precond.npy", err),
         *js = ph_path_join(path, "precond.json", err);
    if (!npy || !js) {
      free(npy);
      free(js);
      return PH_ERR_NOMEM;
    }
    ph_precond_kind kind = PH_PRECOND_DIAG;
    if (ph_path_exists(js)) {
      cJSON *o;
      st = ph_json_read_file(js, &o, err);
      if (st == PH_OK) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
        if (cJSON_IsString(k) && strcmp(k->valuestring, "kron") == 0)
          kind = PH_PRECOND_KRON;
        cJSON_Delete(o);
      } else {
        free(npy);
        free(js);
        return st;
      }
    }
    if (!ph_path_exists(npy)) {
      st = ph_error_set(err, PH_ERR_IO,
                        "%s: no preconditioner (precond.npy missing; "
                        "was the run trained with llqr or llqr-sam?)",
                        path);
    } else {
      ph_npy a;
      st = ph_npy_read(npy, &a, err);
      if (st == PH_OK) {
        st =
            from_flat(a.data, a.size, kind, n, n_blocks, blocks, npy, out, err);
        ph_npy_free(&a);
      }
    }
    free(npy);
    free(js);
    return st;
  }
  if (plen > 5 && strcmp(path + plen - 5, ".ckpt") == 0) {
    ph_ckpt *ck;
    PH_TRY(ph_ckpt_read(path, &ck, err));
    const double *v;
    size_t len, k;
    const uint64_t *kind = ph_ckpt_get_u64(ck, "precond.kind", &k);
    st = ph_ckpt_require_f64(ck, "precond", 0, &v, &len, err);
    if (st == PH_OK)
      st = from_flat(
          v, len, kind && k == 1 ? (ph_precond_kind)kind[0] : PH_PRECOND_DIAG,
          n, n_blocks, blocks, path, out, err);
    ph_ckpt_free(ck);
    return st;
  }
  ph_npy a;
  PH_TRY(ph_npy_read(path, &a, err));
  st = from_flat(a.data, a.size, PH_PRECOND_DIAG, n, n_blocks, blocks, path,
                 out, err);
  ph_npy_free(&a);
  return st;
}
