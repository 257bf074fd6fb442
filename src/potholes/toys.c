/* toys.c: analytic toy landscapes (spec parsing, loss, gradient, exact
 * Hessian-vector products, Gauss-Newton choice, pit geometry).
 *
 * Formulas: docs/potholes.md §1 (derivatives written out there). The
 * classics follow their textbook definitions (Rastrigin 1974, Ackley 1987,
 * Rosenbrock 1960, Himmelblau 1972). This file does not run optimisers or
 * measure sharpness (escape.c, sharpness.c).
 */
#include "potholes/toys.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/rng.h"
#include "core/strnum.h"
#include "core/vec.h"

#define TWO_PI 6.283185307179586476925286766559

/* ---------------------------------------------------------------- specs */

typedef struct kind_table {
  const char *name;
  ph_toy_kind kind;
  size_t n_params;
  const char *keys[PH_TOY_MAX_PARAMS];
  double defaults[PH_TOY_MAX_PARAMS];
} kind_table;

static const kind_table KINDS[] = {
    {"pothole2d",
     PH_TOY_POTHOLE2D,
     7,
     {"a", "b", "d", "sx", "sy", "cx", "cy"},
     {1.0, 1.0, 0.5, 0.1, 0.1, 1.5, 0.0}},
    {"potholeNd",
     PH_TOY_POTHOLEND,
     7,
     {"n", "lmin", "lmax", "count", "depth", "width", "offset"},
     {10, 0.5, 5.0, 1, 0.5, 0.1, 1.5}},
    {"quadratic", PH_TOY_QUADRATIC, 3, {"n", "lmin", "lmax"}, {2, 0.1, 1.0}},
    {"rastrigin", PH_TOY_RASTRIGIN, 2, {"n", "A"}, {2, 10.0}},
    {"ackley", PH_TOY_ACKLEY, 4, {"n", "a", "b", "c"}, {2, 20.0, 0.2, TWO_PI}},
    {"rosenbrock", PH_TOY_ROSENBROCK, 3, {"n", "a", "b"}, {2, 1.0, 100.0}},
    {"himmelblau", PH_TOY_HIMMELBLAU, 0, {NULL}, {0}},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

const char *ph_toy_kind_name(ph_toy_kind k) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (KINDS[i].kind == k) return KINDS[i].name;
  return "?";
}

double ph_toy_spec_get(const ph_toy_spec *s, const char *key) {
  for (size_t i = 0; i < s->n_params; i++)
    if (strcmp(s->keys[i], key) == 0) return s->vals[i];
  return NAN;
}

static int is_whole(double v, double lo, double hi) {
  return v == floor(v) && v >= lo && v <= hi;
}

ph_status ph_toy_spec_parse(const char *spec, ph_toy_spec *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  if (!spec || !*spec)
    return ph_error_set(err, PH_ERR_ARG, "empty landscape spec");
  size_t name_len = strcspn(spec, ":");
  const kind_table *kt = NULL;
  for (size_t i = 0; i < N_KINDS; i++)
    if (strlen(KINDS[i].name) == name_len &&
        strncmp(KINDS[i].name, spec, name_len) == 0)
      kt = &KINDS[i];
  if (!kt)
    return ph_error_set(err, PH_ERR_ARG,
                        "unknown landscape '%.*s' in '%s' (pothole2d, "
                        "potholeNd, quadratic, rastrigin, ackley, rosenbrock, "
                        "himmelblau)",
                        (int)name_len, spec, spec);
  out->kind = kt->kind;
  out->n_params = kt->n_params;
  for (size_t i = 0; i < kt->n_params; i++) {
    out->keys[i] = kt->keys[i];
    out->vals[i] = kt->defaults[i];
  }
  double samples = -1, seed = 0;
  const char *p = spec + name_len;
  if (*p == ':') p++;
  while (*p) {
    size_t len = strcspn(p, ",");
    const char *eq = memchr(p, '=', len);
    if (!eq)
      return ph_error_set(err, PH_ERR_ARG, "'%.*s' in '%s' is not key=value",
                          (int)len, p, spec);
    size_t klen = (size_t)(eq - p);
    char key[32], val[64];
    if (klen == 0 || klen >= sizeof key || len - klen - 1 >= sizeof val ||
        len - klen - 1 == 0)
      return ph_error_set(err, PH_ERR_ARG, "bad item '%.*s' in '%s'", (int)len,
                          p, spec);
    memcpy(key, p, klen);
    key[klen] = 0;
    memcpy(val, eq + 1, len - klen - 1);
    val[len - klen - 1] = 0;
    double v;
    if (ph_str_to_double(val, &v) != 0)
      return ph_error_set(err, PH_ERR_ARG, "%s=%s in '%s' is not a number", key,
                          val, spec);
    int found = 0;
    if (strcmp(key, "noise") == 0) {
      out->noise = v, found = 1;
    } else if (strcmp(key, "samples") == 0) {
      samples = v, found = 1;
    } else if (strcmp(key, "seed") == 0) {
      seed = v, found = 1;
    } else if (kt->kind == PH_TOY_POTHOLE2D && strcmp(key, "s") == 0) {
      out->vals[3] = out->vals[4] = v, found = 1;
    } else {
      for (size_t i = 0; i < kt->n_params; i++)
        if (strcmp(kt->keys[i], key) == 0) out->vals[i] = v, found = 1;
    }
    if (!found)
      return ph_error_set(err, PH_ERR_ARG, "unknown key '%s' for %s in '%s'",
                          key, kt->name, spec);
    p += len;
    if (*p == ',') p++;
  }
  /* Validation. */
  double n = ph_toy_spec_get(out, "n");
  if (kt->kind == PH_TOY_POTHOLE2D || kt->kind == PH_TOY_HIMMELBLAU) n = 2;
  double nmin = kt->kind == PH_TOY_ROSENBROCK ? 2 : 1;
  if (!is_whole(n, nmin, 1e6))
    return ph_error_set(err, PH_ERR_ARG,
                        "n=%g in '%s' must be a whole number "
                        "in [%g, 1e6]",
                        n, spec, nmin);
  out->n = (size_t)n;
  if (!(out->noise >= 0))
    return ph_error_set(err, PH_ERR_ARG, "noise=%g in '%s' must be >= 0",
                        out->noise, spec);
  if (samples < 0) samples = out->noise > 0 ? 128 : 0;
  if (out->noise > 0 && !is_whole(samples, 1, 1e7))
    return ph_error_set(err, PH_ERR_ARG,
                        "samples=%g in '%s' must be a whole "
                        "number >= 1 when noise > 0",
                        samples, spec);
  if (out->noise == 0) samples = 0;
  out->samples = (size_t)samples;
  if (!is_whole(seed, 0, 9007199254740992.0))
    return ph_error_set(err, PH_ERR_ARG,
                        "seed=%g in '%s' must be a whole "
                        "number >= 0",
                        seed, spec);
  out->seed = (uint64_t)seed;
  switch (kt->kind) {
  case PH_TOY_POTHOLE2D:
    if (!(out->vals[3] > 0 && out->vals[4] > 0))
      return ph_error_set(err, PH_ERR_ARG,
                          "pit widths sx, sy in '%s' must be "
                          "> 0",
                          spec);
    break;
  case PH_TOY_POTHOLEND: {
    double count = out->vals[3];
    if (!is_whole(count, 0, n))
      return ph_error_set(err, PH_ERR_ARG,
                          "count=%g in '%s' must be a whole "
                          "number in [0, n]",
                          count, spec);
    if (!(out->vals[5] > 0))
      return ph_error_set(err, PH_ERR_ARG, "width in '%s' must be > 0", spec);
  } /* and its lmin, lmax: */
    __attribute__((fallthrough));
  case PH_TOY_QUADRATIC:
    if (!(out->vals[1] > 0 && out->vals[2] >= out->vals[1]))
      return ph_error_set(err, PH_ERR_ARG, "need 0 < lmin <= lmax in '%s'",
                          spec);
    break;
  default: break;
  }
  return PH_OK;
}

void ph_toy_spec_format(const ph_toy_spec *s, char *buf, size_t len) {
  char num[40];
  size_t k = (size_t)snprintf(buf, len, "%s", ph_toy_kind_name(s->kind));
  for (size_t i = 0; i < s->n_params && k < len; i++) {
    ph_format_double(num, sizeof num, s->vals[i]); /* shortest round trip */
    k += (size_t)snprintf(buf + k, len - k, "%s%s=%s", i ? "," : ":",
                          s->keys[i], num);
  }
  ph_format_double(num, sizeof num, s->noise);
  if (k < len)
    snprintf(buf + k, len - k, "%snoise=%s,samples=%zu,seed=%llu",
             s->n_params ? "," : ":", num, s->samples,
             (unsigned long long)s->seed);
}

/* ---------------------------------------------------------- objective */

typedef struct toy_ctx {
  ph_objective obj; /* first: obj->ctx == this */
  ph_block block;
  char name[PH_TOY_SPEC_MAX];
  ph_toy_spec spec;
  size_t n;
  double *lam;   /* (n) basin curvatures (quadratic, potholeNd) */
  double *xi;    /* (m, n) noise sample, row-major */
  double *x;     /* (n) shifted point */
  double *gtmp;  /* (n) */
  double *htmp;  /* (n) */
  double *res;   /* (n) one example's product in a batch loop */
  double *evec;  /* (n, n) dense Hessian, then its eigenvectors (|H|) */
  double *eval;  /* (n) */
  double *lwork; /* (3n) LAPACK work */
} toy_ctx;

/* L(x) and (optionally) g = ∇L(x), written (not accumulated). */
static double toy_f(const toy_ctx *c, const double *x, double *g) {
  const double *v = c->spec.vals;
  size_t n = c->n;
  switch (c->spec.kind) {
  case PH_TOY_POTHOLE2D: {
    double a = v[0], b = v[1], d = v[2], sx = v[3], sy = v[4];
    double u = (x[0] - v[5]) / sx, w = (x[1] - v[6]) / sy;
    double e = exp(-0.5 * (u * u + w * w));
    if (g) {
      g[0] = a * x[0] + d * e * u / sx;
      g[1] = b * x[1] + d * e * w / sy;
    }
    return 0.5 * (a * x[0] * x[0] + b * x[1] * x[1]) - d * e;
  }
  case PH_TOY_POTHOLEND:
  case PH_TOY_QUADRATIC: {
    double f = 0;
    size_t count = c->spec.kind == PH_TOY_POTHOLEND ? (size_t)v[3] : 0;
    double d = v[4], s = v[5], off = v[6];
    for (size_t i = 0; i < n; i++) {
      f += 0.5 * c->lam[i] * x[i] * x[i];
      double gi = c->lam[i] * x[i];
      if (i < count) {
        double u = (x[i] - off) / s, e = exp(-0.5 * u * u);
        f -= d * e;
        gi += d * e * u / s;
      }
      if (g) g[i] = gi;
    }
    return f;
  }
  case PH_TOY_RASTRIGIN: {
    double A = v[1], f = A * (double)n;
    for (size_t i = 0; i < n; i++) {
      f += x[i] * x[i] - A * cos(TWO_PI * x[i]);
      if (g) g[i] = 2 * x[i] + TWO_PI * A * sin(TWO_PI * x[i]);
    }
    return f;
  }
  case PH_TOY_ACKLEY: {
    double a = v[1], b = v[2], cc = v[3], S = 0, C = 0;
    for (size_t i = 0; i < n; i++) S += x[i] * x[i], C += cos(cc * x[i]);
    double r = sqrt(S / (double)n), e1 = exp(-b * r), e2 = exp(C / (double)n);
    if (g)
      for (size_t i = 0; i < n; i++)
        g[i] = (r > 0 ? a * b * e1 * x[i] / ((double)n * r) : 0) +
               e2 * cc * sin(cc * x[i]) / (double)n;
    return -a * e1 - e2 + a + M_E;
  }
  case PH_TOY_ROSENBROCK: {
    double a = v[1], b = v[2], f = 0;
    if (g) ph_vec_zero(n, g);
    for (size_t i = 0; i + 1 < n; i++) {
      double q = x[i + 1] - x[i] * x[i], r = a - x[i];
      f += b * q * q + r * r;
      if (g) {
        g[i] += -4 * b * x[i] * q - 2 * r;
        g[i + 1] += 2 * b * q;
      }
    }
    return f;
  }
  case PH_TOY_HIMMELBLAU: {
    double p = x[0] * x[0] + x[1] - 11, q = x[0] + x[1] * x[1] - 7;
    if (g) {
      g[0] = 4 * x[0] * p + 2 * q;
      g[1] = 2 * p + 4 * x[1] * q;
    }
    return p * p + q * q;
  }
  }
  return NAN;
}

/* out = ∇²L(x) w. */
static void toy_hv(const toy_ctx *c, const double *x, const double *w,
                   double *out) {
  const double *v = c->spec.vals;
  size_t n = c->n;
  switch (c->spec.kind) {
  case PH_TOY_POTHOLE2D: {
    double a = v[0], b = v[1], d = v[2], sx = v[3], sy = v[4];
    double u = (x[0] - v[5]) / sx, q = (x[1] - v[6]) / sy;
    double e = exp(-0.5 * (u * u + q * q));
    double hxx = a + d * e * (1 - u * u) / (sx * sx);
    double hyy = b + d * e * (1 - q * q) / (sy * sy);
    double hxy = -d * e * u * q / (sx * sy);
    double w0 = w[0], w1 = w[1];
    out[0] = hxx * w0 + hxy * w1;
    out[1] = hxy * w0 + hyy * w1;
    return;
  }
  case PH_TOY_POTHOLEND:
  case PH_TOY_QUADRATIC: {
    size_t count = c->spec.kind == PH_TOY_POTHOLEND ? (size_t)v[3] : 0;
    double d = v[4], s = v[5], off = v[6];
    for (size_t i = 0; i < n; i++) {
      double h = c->lam[i];
      if (i < count) {
        double u = (x[i] - off) / s;
        h += d * exp(-0.5 * u * u) * (1 - u * u) / (s * s);
      }
      out[i] = h * w[i];
    }
    return;
  }
  case PH_TOY_RASTRIGIN:
    for (size_t i = 0; i < n; i++)
      out[i] = (2 + TWO_PI * TWO_PI * v[1] * cos(TWO_PI * x[i])) * w[i];
    return;
  case PH_TOY_ACKLEY: {
    double a = v[1], b = v[2], cc = v[3], S = 0, C = 0, xw = 0, sw = 0;
    double dn = (double)n;
    for (size_t i = 0; i < n; i++) {
      S += x[i] * x[i];
      C += cos(cc * x[i]);
      xw += x[i] * w[i];
      sw += sin(cc * x[i]) * w[i];
    }
    double r = sqrt(S / dn), e1 = exp(-b * r), e2 = exp(C / dn);
    double k2 = e2 * cc * cc / dn;
    for (size_t i = 0; i < n; i++) {
      double h1 = 0;
      if (r > 0)
        h1 = a * b * e1 / dn *
             (w[i] / r - x[i] * xw * (b / (dn * r * r) + 1 / (dn * r * r * r)));
      out[i] = h1 + k2 * (cos(cc * x[i]) * w[i] - sin(cc * x[i]) * sw / dn);
    }
    return;
  }
  case PH_TOY_ROSENBROCK: {
    double b = v[2];
    ph_vec_zero(n, out);
    for (size_t i = 0; i + 1 < n; i++) {
      double hii = -4 * b * x[i + 1] + 12 * b * x[i] * x[i] + 2;
      double hij = -4 * b * x[i];
      out[i] += hii * w[i] + hij * w[i + 1];
      out[i + 1] += hij * w[i] + 2 * b * w[i + 1];
    }
    return;
  }
  case PH_TOY_HIMMELBLAU: {
    double p = x[0] * x[0] + x[1] - 11, q = x[0] + x[1] * x[1] - 7;
    double hxx = 4 * p + 8 * x[0] * x[0] + 2, hyy = 2 + 4 * q + 8 * x[1] * x[1];
    double hxy = 4 * x[0] + 4 * x[1];
    double w0 = w[0], w1 = w[1];
    out[0] = hxx * w0 + hxy * w1;
    out[1] = hxy * w0 + hyy * w1;
    return;
  }
  }
}

static void toy_dense_hess(toy_ctx *c, const double *x, double *h) {
  size_t n = c->n;
  double *e = c->htmp;
  for (size_t j = 0; j < n; j++) {
    ph_vec_zero(n, e);
    e[j] = 1;
    toy_hv(c, x, e, c->gtmp);
    for (size_t i = 0; i < n; i++) h[i * n + j] = c->gtmp[i];
  }
  for (size_t i = 0; i < n; i++) /* symmetrise rounding */
    for (size_t j = i + 1; j < n; j++) {
      double s = 0.5 * (h[i * n + j] + h[j * n + i]);
      h[i * n + j] = h[j * n + i] = s;
    }
}

/* out = G(x) w: Gauss-Newton 2JᵀJ (sum-of-squares toys) or |H| w. */
static ph_status toy_ggnv(toy_ctx *c, const double *x, const double *w,
                          double *out, ph_error *err) {
  const double *v = c->spec.vals;
  size_t n = c->n;
  switch (c->spec.kind) {
  case PH_TOY_QUADRATIC: toy_hv(c, x, w, out); return PH_OK;
  case PH_TOY_ROSENBROCK: {
    /* residuals r1 = √b (x_{i+1} − x_i²), r2 = a − x_i. */
    double sb = sqrt(v[2]);
    ph_vec_zero(n, out);
    for (size_t i = 0; i + 1 < n; i++) {
      double j1i = -2 * sb * x[i], j1n = sb; /* ∇r1 */
      double t1 = j1i * w[i] + j1n * w[i + 1];
      out[i] += 2 * (j1i * t1 + w[i]); /* r2: ∇r2 = −e_i */
      out[i + 1] += 2 * j1n * t1;
    }
    return PH_OK;
  }
  case PH_TOY_HIMMELBLAU: {
    double J[2][2] = {{2 * x[0], 1}, {1, 2 * x[1]}};
    double t0 = J[0][0] * w[0] + J[0][1] * w[1];
    double t1 = J[1][0] * w[0] + J[1][1] * w[1];
    double o0 = 2 * (J[0][0] * t0 + J[1][0] * t1);
    double o1 = 2 * (J[0][1] * t0 + J[1][1] * t1);
    out[0] = o0, out[1] = o1;
    return PH_OK;
  }
  case PH_TOY_POTHOLEND:
  case PH_TOY_RASTRIGIN: { /* diagonal H: |H| elementwise */
    double *e = c->htmp;
    ph_vec_zero(n, e);
    for (size_t i = 0; i < n; i++) {
      e[i] = 1;
      toy_hv(c, x, e, c->gtmp);
      out[i] = fabs(c->gtmp[i]) * w[i];
      e[i] = 0;
    }
    return PH_OK;
  }
  default: { /* dense |H| = V|Λ|Vᵀ */
    toy_dense_hess(c, x, c->evec);
    lapack_int info = LAPACKE_dsyev_work(
        LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, c->evec, (lapack_int)n,
        c->eval, c->lwork, (lapack_int)(3 * n));
    if (info != 0)
      return ph_error_set(err, PH_ERR_NUMERIC,
                          "%s: |H| eigendecomposition "
                          "failed (dsyev info %d)",
                          c->name, (int)info);
    /* out = V (|λ| ⊙ (Vᵀ w)) */
    for (size_t k = 0; k < n; k++) {
      double s = 0;
      for (size_t i = 0; i < n; i++) s += c->evec[i * n + k] * w[i];
      c->htmp[k] = fabs(c->eval[k]) * s;
    }
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      for (size_t k = 0; k < n; k++) s += c->evec[i * n + k] * c->htmp[k];
      out[i] = s;
    }
    return PH_OK;
  }
  }
}

/* Resolve a batch into a list of sample rows: returns count and fills
 * (*idx, *first_n): idx NULL means rows 0..count-1. */
static ph_status batch_rows(const toy_ctx *c, const ph_batch *b,
                            const size_t **idx, size_t *count, ph_error *err) {
  size_t m = c->spec.samples;
  *idx = NULL;
  *count = m;
  if (!b || b->n == 0) return PH_OK;
  if (!b->idx) {
    if (b->n > m)
      return ph_error_set(err, PH_ERR_ARG, "%s: batch of %zu > %zu samples",
                          c->name, b->n, m);
    *count = b->n;
    return PH_OK;
  }
  for (size_t k = 0; k < b->n; k++)
    if (b->idx[k] >= m)
      return ph_error_set(err, PH_ERR_ARG,
                          "%s: batch index %zu >= %zu "
                          "samples",
                          c->name, b->idx[k], m);
  *idx = b->idx;
  *count = b->n;
  return PH_OK;
}

/* Shared loop: mode 0 = loss/grad, 1 = hvp, 2 = ggnvp. */
static ph_status toy_apply(toy_ctx *c, const double *theta, const ph_batch *b,
                           int mode, const double *w, double *loss, double *out,
                           ph_error *err) {
  size_t n = c->n;
  if (c->spec.samples == 0) {
    if (mode == 0) {
      *loss = toy_f(c, theta, out);
    } else if (mode == 1) {
      toy_hv(c, theta, w, out);
    } else {
      PH_TRY(toy_ggnv(c, theta, w, out, err));
    }
    return PH_OK;
  }
  const size_t *idx;
  size_t count;
  PH_TRY(batch_rows(c, b, &idx, &count, err));
  double acc = 0;
  double *res = c->res; /* never touched by toy_f / toy_hv / toy_ggnv */
  if (out) ph_vec_zero(n, out);
  for (size_t k = 0; k < count; k++) {
    const double *xi = c->xi + (idx ? idx[k] : k) * n;
    for (size_t i = 0; i < n; i++) c->x[i] = theta[i] - xi[i];
    if (mode == 0) {
      acc += toy_f(c, c->x, out ? res : NULL);
    } else if (mode == 1) {
      toy_hv(c, c->x, w, res);
    } else {
      PH_TRY(toy_ggnv(c, c->x, w, res, err));
    }
    if (out) ph_vec_axpy(n, 1.0, res, out);
  }
  double inv = 1.0 / (double)count;
  if (out) ph_vec_scal(n, inv, out);
  if (loss) *loss = acc * inv;
  return PH_OK;
}

static ph_status toy_loss_grad(void *ctx, const double *theta,
                               const ph_batch *b, double *loss, double *grad,
                               ph_error *err) {
  return toy_apply(ctx, theta, b, 0, NULL, loss, grad, err);
}
static ph_status toy_hvp(void *ctx, const double *theta, const ph_batch *b,
                         const double *v, double *hv, ph_error *err) {
  return toy_apply(ctx, theta, b, 1, v, NULL, hv, err);
}
static ph_status toy_ggnvp(void *ctx, const double *theta, const ph_batch *b,
                           const double *v, double *gv, ph_error *err) {
  return toy_apply(ctx, theta, b, 2, v, NULL, gv, err);
}
static ph_status toy_eval(void *ctx, const double *theta, const ph_batch *b,
                          double *loss, double *acc, ph_error *err) {
  *acc = NAN;
  return toy_apply(ctx, theta, b, 0, NULL, loss, NULL, err);
}

static void toy_destroy(ph_objective *o) {
  if (!o) return;
  toy_ctx *c = o->ctx;
  ph_free(c->lam);
  ph_free(c->xi);
  ph_free(c->x);
  ph_free(c->gtmp);
  ph_free(c->htmp);
  ph_free(c->res);
  ph_free(c->evec);
  ph_free(c->eval);
  ph_free(c->lwork);
  ph_free(c);
}

static ph_objective *toy_new(const ph_toy_spec *s, ph_error *err);

static ph_objective *toy_clone(const ph_objective *o, ph_error *err) {
  const toy_ctx *c = o->ctx;
  return toy_new(&c->spec, err);
}

static ph_objective *toy_new(const ph_toy_spec *s, ph_error *err) {
  toy_ctx *c = ph_calloc(1, sizeof *c, "toy landscape", err);
  if (!c) return NULL;
  c->spec = *s;
  size_t n = c->n = s->n;
  ph_toy_spec_format(s, c->name, sizeof c->name);
  size_t big = n <= 2048 ? n * n : 0; /* dense |H| only for small n */
  c->x = ph_calloc(n, sizeof(double), "toy buffer", err);
  c->gtmp = ph_calloc(n, sizeof(double), "toy buffer", err);
  c->htmp = ph_calloc(n, sizeof(double), "toy buffer", err);
  c->eval = ph_calloc(n, sizeof(double), "toy buffer", err);
  c->res = ph_calloc(n, sizeof(double), "toy buffer", err);
  c->lwork = ph_calloc(3 * n + 1, sizeof(double), "toy buffer", err);
  c->lam = ph_calloc(n, sizeof(double), "toy curvatures", err);
  int need_dense = s->kind == PH_TOY_POTHOLE2D || s->kind == PH_TOY_ACKLEY;
  if (need_dense && big) {
    c->evec = ph_calloc(big, sizeof(double), "toy Hessian", err);
  }
  if (!c->x || !c->gtmp || !c->htmp || !c->eval || !c->res || !c->lwork ||
      !c->lam || (need_dense && big && !c->evec)) {
    toy_destroy(&c->obj);
    return NULL;
  }
  if (s->kind == PH_TOY_QUADRATIC || s->kind == PH_TOY_POTHOLEND) {
    double lmin = ph_toy_spec_get(s, "lmin"), lmax = ph_toy_spec_get(s, "lmax");
    for (size_t i = 0; i < n; i++)
      c->lam[i] =
          n == 1 ? lmin : lmin * pow(lmax / lmin, (double)i / (double)(n - 1));
  }
  if (s->samples > 0) {
    size_t mn;
    if (ph_mul_size(s->samples, n, &mn) != 0) {
      ph_error_set(err, PH_ERR_NOMEM, "toy noise sample too large");
      toy_destroy(&c->obj);
      return NULL;
    }
    c->xi = ph_malloc(mn, sizeof(double), "toy noise sample", err);
    if (!c->xi) {
      toy_destroy(&c->obj);
      return NULL;
    }
    ph_rng r = ph_rng_make(s->seed, PH_RNG_STREAM_TOY);
    ph_rng_fill_gauss(&r, c->xi, mn, s->noise);
  }
  snprintf(c->block.name, sizeof c->block.name, "theta");
  c->block.offset = 0;
  c->block.size = n;
  c->block.ndim = 1;
  c->block.shape[0] = n;
  c->block.kind = PH_BLOCK_OTHER;
  c->block.fan_in = 1;
  c->block.fan_out = n;
  ph_objective *o = &c->obj;
  o->name = c->name;
  o->n = n;
  o->n_blocks = 1;
  o->blocks = &c->block;
  o->n_examples[0] = o->n_examples[1] = s->samples;
  o->has_accuracy = 0;
  o->ctx = c;
  o->loss_grad = toy_loss_grad;
  o->hvp = toy_hvp;
  o->ggnvp = (need_dense && !big) ? NULL : toy_ggnvp;
  o->eval = toy_eval;
  o->clone = toy_clone;
  o->destroy = toy_destroy;
  return o;
}

ph_status ph_toy_create(const ph_toy_spec *s, ph_objective **out,
                        ph_error *err) {
  *out = toy_new(s, err);
  return *out ? PH_OK : (err && err->code ? err->code : PH_ERR_NOMEM);
}

ph_status ph_toy_create_str(const char *spec, ph_objective **out,
                            ph_error *err) {
  *out = NULL;
  ph_toy_spec s;
  PH_TRY(ph_toy_spec_parse(spec, &s, err));
  return ph_toy_create(&s, out, err);
}

int ph_toy_is_toy(const ph_objective *obj) {
  return obj && obj->clone == toy_clone;
}

const ph_toy_spec *ph_toy_get_spec(const ph_objective *obj) {
  return ph_toy_is_toy(obj) ? &((const toy_ctx *)obj->ctx)->spec : NULL;
}

void ph_toy_eval_clean(const ph_objective *obj, const double *theta,
                       double *loss, double *grad, double *hess) {
  toy_ctx *c = obj->ctx;
  double f = toy_f(c, theta, grad);
  if (loss) *loss = f;
  if (hess) toy_dense_hess(c, theta, hess);
}

/* ------------------------------------------------------------ geometry */

/* Newton's method on the clean landscape from x (in place). */
static ph_status newton_min(toy_ctx *c, double *x, ph_error *err) {
  size_t n = c->n;
  double *h = ph_malloc(n * n, sizeof(double), "Newton Hessian", err);
  double *g = ph_malloc(n, sizeof(double), "Newton gradient", err);
  if (!h || !g) {
    ph_free(h);
    ph_free(g);
    return PH_ERR_NOMEM;
  }
  ph_status st = PH_ERR_NUMERIC;
  for (int it = 0; it < 100; it++) {
    toy_f(c, x, g);
    double gn = ph_vec_nrm2(n, g);
    toy_dense_hess(c, x, h);
    lapack_int info =
        LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, h, (lapack_int)n);
    if (info != 0) {
      ph_error_set(err, PH_ERR_NUMERIC,
                   "%s: Hessian not positive definite "
                   "during the pit search (no local minimum there?)",
                   c->name);
      break;
    }
    if (gn <= 1e-14 * (1 + ph_vec_amax(n, x))) {
      st = PH_OK;
      break;
    }
    LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, 1, h, (lapack_int)n, g,
                   1);
    ph_vec_axpy(n, -1.0, g, x);
    if (ph_vec_nrm2(n, g) <= 1e-15 * (1 + ph_vec_amax(n, x))) {
      st = PH_OK;
      break;
    }
  }
  if (st != PH_OK && !(err && err->msg[0]))
    ph_error_set(err, PH_ERR_NUMERIC,
                 "%s: Newton pit search did not "
                 "converge",
                 c->name);
  ph_free(h);
  ph_free(g);
  return st;
}

ph_status ph_toy_geometry_get(const ph_objective *obj, ph_toy_geometry *g,
                              ph_error *err) {
  memset(g, 0, sizeof *g);
  if (!ph_toy_is_toy(obj))
    return ph_error_set(err, PH_ERR_ARG, "%s is not a toy landscape",
                        obj->name);
  toy_ctx *c = obj->ctx;
  size_t n = c->n;
  const double *v = c->spec.vals;
  g->pit = ph_calloc(n, sizeof(double), "pit centre", err);
  g->basin = ph_calloc(n, sizeof(double), "basin centre", err);
  if (!g->pit || !g->basin) {
    ph_toy_geometry_free(g);
    return PH_ERR_NOMEM;
  }
  g->scale = 1;
  switch (c->spec.kind) {
  case PH_TOY_POTHOLE2D:
    g->has_pit = v[2] > 0;
    g->scale = fmax(v[3], v[4]);
    g->pit[0] = v[5], g->pit[1] = v[6];
    break;
  case PH_TOY_POTHOLEND:
    g->has_pit = v[3] >= 1 && v[4] > 0;
    g->scale = v[5];
    for (size_t j = 0; j < (size_t)v[3]; j++) g->pit[j] = v[6];
    break;
  case PH_TOY_ROSENBROCK:
    for (size_t i = 0; i < n; i++) g->basin[i] = 1;
    break;
  case PH_TOY_HIMMELBLAU: g->basin[0] = 3, g->basin[1] = 2; break;
  default: break;
  }
  ph_status st = PH_OK;
  if (c->spec.kind == PH_TOY_ROSENBROCK) st = newton_min(c, g->basin, err);
  if (st == PH_OK && g->has_pit) {
    st = newton_min(c, g->pit, err);
    if (st == PH_OK) {
      /* the Newton point must still be in the pit, not the basin */
      double dist = 0;
      if (c->spec.kind == PH_TOY_POTHOLE2D)
        dist = hypot((g->pit[0] - v[5]) / v[3], (g->pit[1] - v[6]) / v[4]);
      else
        for (size_t j = 0; j < (size_t)v[3]; j++)
          dist = fmax(dist, fabs(g->pit[j] - v[6]) / v[5]);
      if (dist > 1)
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "%s: no local minimum inside "
                          "the pit (Newton ended %.3g widths away)",
                          c->name, dist);
    }
  }
  if (!g->has_pit) {
    ph_vec_copy(n, g->basin, g->pit);
    g->scale = 1;
  }
  if (st != PH_OK) ph_toy_geometry_free(g);
  return st;
}

void ph_toy_geometry_free(ph_toy_geometry *g) {
  ph_free(g->pit);
  ph_free(g->basin);
  g->pit = g->basin = NULL;
}

ph_status ph_toy_basin_curvature(const ph_objective *obj, double *out,
                                 ph_error *err) {
  if (!ph_toy_is_toy(obj))
    return ph_error_set(err, PH_ERR_ARG, "%s is not a toy landscape",
                        obj->name);
  const toy_ctx *c = obj->ctx;
  switch (c->spec.kind) {
  case PH_TOY_POTHOLE2D:
    out[0] = c->spec.vals[0];
    out[1] = c->spec.vals[1];
    if (!(out[0] > 0 && out[1] > 0))
      return ph_error_set(err, PH_ERR_UNSUPPORTED,
                          "%s: basin curvature "
                          "a, b must be > 0 for a fitted preconditioner",
                          c->name);
    return PH_OK;
  case PH_TOY_POTHOLEND:
  case PH_TOY_QUADRATIC: ph_vec_copy(c->n, c->lam, out); return PH_OK;
  default:
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s has no quadratic basin "
                        "to fit a preconditioner to",
                        c->name);
  }
}
