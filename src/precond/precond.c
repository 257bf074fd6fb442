/* precond.c: structured preconditioners (see precond.h). Diagonal blocks
 * hold u (U g = u ⊙ g); Kronecker blocks hold A (rows×rows) and B
 * (cols×cols) with U g = vec(A G Bᵀ). Square roots and inverses use the
 * symmetric part of each factor with eigenvalues floored at
 * PH_PRECOND_EIG_FLOOR (LAPACKE dsyevd), cached until the factors change. */
#include <lapacke.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/ckpt.h"
#include "core/afile.h"
#include "core/stats.h"
#include "precond/precond.h"

typedef struct pblock {
  int kron;
  size_t off, size, rows, cols;
  double *u;     /* diag: (size) */
  double *A, *B; /* kron: (rows, rows), (cols, cols) */
  /* caches: Q diag(λ) Qᵀ of sym(A), sym(B); valid when !dirty */
  double *qa, *la, *qb, *lb;
  int dirty;
} pblock;

struct ph_precond {
  size_t n, n_blocks;
  ph_precond_kind kind;
  pblock *b;
  double *work; /* (max rows·cols) */
  size_t work_len;
};

static void block_free(pblock *p) {
  free(p->u);
  free(p->A);
  free(p->B);
  free(p->qa);
  free(p->la);
  free(p->qb);
  free(p->lb);
}

void ph_precond_free(ph_precond *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n_blocks; i++) block_free(&p->b[i]);
  free(p->b);
  free(p->work);
  free(p);
}

static ph_precond *alloc_pc(size_t n, size_t n_blocks, ph_error *err) {
  ph_precond *p = ph_calloc(1, sizeof *p, "preconditioner", err);
  if (!p) return NULL;
  p->n = n;
  p->n_blocks = n_blocks;
  p->b =
      ph_calloc(n_blocks ? n_blocks : 1, sizeof *p->b, "preconditioner", err);
  if (!p->b) {
    free(p);
    return NULL;
  }
  return p;
}

static int init_block(ph_precond *p, pblock *b, ph_error *err) {
  b->dirty = 1;
  if (!b->kron) {
    b->u = ph_malloc(b->size, sizeof(double), "preconditioner", err);
    if (!b->u) return -1;
    for (size_t i = 0; i < b->size; i++) b->u[i] = 1;
    return 0;
  }
  b->A = ph_calloc(b->rows * b->rows, sizeof(double), "kron A", err);
  b->B = ph_calloc(b->cols * b->cols, sizeof(double), "kron B", err);
  b->qa = ph_calloc(b->rows * b->rows, sizeof(double), "kron cache", err);
  b->la = ph_calloc(b->rows, sizeof(double), "kron cache", err);
  b->qb = ph_calloc(b->cols * b->cols, sizeof(double), "kron cache", err);
  b->lb = ph_calloc(b->cols, sizeof(double), "kron cache", err);
  if (!b->A || !b->B || !b->qa || !b->la || !b->qb || !b->lb) return -1;
  for (size_t i = 0; i < b->rows; i++) b->A[i * b->rows + i] = 1;
  for (size_t i = 0; i < b->cols; i++) b->B[i * b->cols + i] = 1;
  if (b->size > p->work_len) {
    free(p->work);
    p->work = ph_malloc(b->size, sizeof(double), "kron work", err);
    if (!p->work) return -1;
    p->work_len = b->size;
  }
  return 0;
}

ph_status ph_precond_create(size_t n, size_t n_blocks, const ph_block *blocks,
                            ph_precond_kind kind, ph_precond **out,
                            ph_error *err) {
  *out = NULL;
  ph_precond *p = alloc_pc(n, n_blocks ? n_blocks : 1, err);
  if (!p) return PH_ERR_NOMEM;
  p->kind = kind;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (n_blocks == 0) {
      b->off = 0;
      b->size = n;
    } else {
      b->off = blocks[i].offset;
      b->size = blocks[i].size;
      b->rows = blocks[i].fan_out;
      b->cols = blocks[i].fan_in;
      b->kron = kind == PH_PRECOND_KRON && blocks[i].kind == PH_BLOCK_WEIGHT &&
                blocks[i].ndim >= 2 && b->rows > 1 && b->cols > 1;
    }
    if (init_block(p, b, err)) {
      ph_precond_free(p);
      return PH_ERR_NOMEM;
    }
  }
  *out = p;
  return PH_OK;
}

ph_status ph_precond_diag_create(size_t n, const double *diag, ph_precond **out,
                                 ph_error *err) {
  PH_TRY(ph_precond_create(n, 0, NULL, PH_PRECOND_DIAG, out, err));
  memcpy((*out)->b[0].u, diag, n * sizeof *diag);
  return PH_OK;
}

ph_status ph_precond_copy_create(const ph_precond *q, ph_precond **out,
                                 ph_error *err) {
  *out = NULL;
  ph_precond *p = alloc_pc(q->n, q->n_blocks, err);
  if (!p) return PH_ERR_NOMEM;
  p->kind = q->kind;
  for (size_t i = 0; i < q->n_blocks; i++) {
    pblock *b = &p->b[i];
    const pblock *c = &q->b[i];
    b->kron = c->kron;
    b->off = c->off;
    b->size = c->size;
    b->rows = c->rows;
    b->cols = c->cols;
    if (init_block(p, b, err)) {
      ph_precond_free(p);
      return PH_ERR_NOMEM;
    }
    if (b->kron) {
      memcpy(b->A, c->A, b->rows * b->rows * sizeof(double));
      memcpy(b->B, c->B, b->cols * b->cols * sizeof(double));
    } else
      memcpy(b->u, c->u, b->size * sizeof(double));
  }
  *out = p;
  return PH_OK;
}

size_t ph_precond_n(const ph_precond *p) {
  return p->n;
}
ph_precond_kind ph_precond_get_kind(const ph_precond *p) {
  return p->kind;
}

/* out = X G Yᵀ for G (r, c) row-major; out may alias g (work buffer). */
static void kron_mul(ph_precond *p, const double *X, const double *Y, size_t r,
                     size_t c, const double *g, double *out) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)c, (int)r,
              1.0, X, (int)r, g, (int)c, 0.0, p->work, (int)c);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)c, (int)c,
              1.0, p->work, (int)c, Y, (int)c, 0.0, out, (int)c);
}

void ph_precond_apply(const ph_precond *pc, const double *g, double *out) {
  ph_precond *p = (ph_precond *)pc;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (!b->kron)
      for (size_t k = 0; k < b->size; k++)
        out[b->off + k] = b->u[k] * g[b->off + k];
    else
      kron_mul(p, b->A, b->B, b->rows, b->cols, g + b->off, out + b->off);
  }
}

/* Eigen-decompose sym(M) into Q (rows are not used: column-major-free, we
 * keep Q row-major with eigenvectors as columns) and floored λ. */
static int sym_eig(const double *M, size_t m, double *Q, double *lam) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < m; j++)
      Q[i * m + j] = 0.5 * (M[i * m + j] + M[j * m + i]);
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)m, Q,
                     (lapack_int)m, lam))
    return -1;
  for (size_t i = 0; i < m; i++)
    if (!(lam[i] > PH_PRECOND_EIG_FLOOR)) lam[i] = PH_PRECOND_EIG_FLOOR;
  return 0;
}

/* F = Q diag(f(λ)) Qᵀ into out (m, m). */
static void sym_fun(const double *Q, const double *lam, size_t m, double power,
                    double *out) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = 0;
      for (size_t k = 0; k < m; k++)
        s += Q[i * m + k] * pow(lam[k], power) * Q[j * m + k];
      out[i * m + j] = out[j * m + i] = s;
    }
}

static ph_status refresh(pblock *b, ph_error *err) {
  if (!b->dirty) return PH_OK;
  if (sym_eig(b->A, b->rows, b->qa, b->la) ||
      sym_eig(b->B, b->cols, b->qb, b->lb))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "preconditioner: eigendecomposition failed");
  b->dirty = 0;
  return PH_OK;
}

static ph_status apply_power(const ph_precond *pc, const double *v, double *out,
                             double power, ph_error *err) {
  ph_precond *p = (ph_precond *)pc;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (!b->kron) {
      for (size_t k = 0; k < b->size; k++) {
        double u =
            b->u[k] > PH_PRECOND_EIG_FLOOR ? b->u[k] : PH_PRECOND_EIG_FLOOR;
        out[b->off + k] = pow(u, power) * v[b->off + k];
      }
      continue;
    }
    PH_TRY(refresh(b, err));
    double *fa = malloc(b->rows * b->rows * sizeof *fa),
           *fb = malloc(b->cols * b->cols * sizeof *fb);
    if (!fa || !fb) {
      free(fa);
      free(fb);
      return ph_error_set(err, PH_ERR_NOMEM, "preconditioner: out of memory");
    }
    sym_fun(b->qa, b->la, b->rows, power, fa);
    sym_fun(b->qb, b->lb, b->cols, power, fb);
    kron_mul(p, fa, fb, b->rows, b->cols, v + b->off, out + b->off);
    free(fa);
    free(fb);
  }
  return PH_OK;
}

ph_status ph_precond_sqrt_apply(const ph_precond *p, const double *v,
                                double *out, ph_error *err) {
  return apply_power(p, v, out, 0.5, err);
}

ph_status ph_precond_inv_apply(const ph_precond *p, const double *v,
                               double *out, ph_error *err) {
  return apply_power(p, v, out, -1.0, err);
}

double ph_precond_inverse_quadratic(const ph_precond *p, const double *v) {
  double *t = malloc(p->n * sizeof *t);
  if (!t) return NAN;
  double s = NAN;
  if (ph_precond_inv_apply(p, v, t, NULL) == PH_OK) {
    s = 0;
    for (size_t i = 0; i < p->n; i++) s += v[i] * t[i];
  }
  free(t);
  return s;
}

ph_status ph_precond_ema_merge(ph_precond *p, const ph_precond *q, double beta,
                               ph_error *err) {
  if (p->n != q->n || p->n_blocks != q->n_blocks)
    return ph_error_set(err, PH_ERR_ARG,
                        "preconditioner EMA: structures differ");
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    const pblock *c = &q->b[i];
    if (b->kron != c->kron || b->size != c->size)
      return ph_error_set(err, PH_ERR_ARG,
                          "preconditioner EMA: block %zu differs", i);
    if (b->kron) {
      for (size_t k = 0; k < b->rows * b->rows; k++)
        b->A[k] = beta * b->A[k] + (1 - beta) * c->A[k];
      for (size_t k = 0; k < b->cols * b->cols; k++)
        b->B[k] = beta * b->B[k] + (1 - beta) * c->B[k];
      b->dirty = 1;
    } else
      for (size_t k = 0; k < b->size; k++)
        b->u[k] = beta * b->u[k] + (1 - beta) * c->u[k];
  }
  return PH_OK;
}

void ph_precond_diag(const ph_precond *p, double *out) {
  for (size_t i = 0; i < p->n_blocks; i++) {
    const pblock *b = &p->b[i];
    if (!b->kron) {
      memcpy(out + b->off, b->u, b->size * sizeof(double));
      continue;
    }
    for (size_t r = 0; r < b->rows; r++)
      for (size_t c = 0; c < b->cols; c++)
        out[b->off + r * b->cols + c] =
            b->A[r * b->rows + r] * b->B[c * b->cols + c];
  }
}

void ph_precond_stats(const ph_precond *p, double *mn, double *mx,
                      double *mean) {
  double *d = malloc(p->n * sizeof *d);
  *mn = INFINITY;
  *mx = -INFINITY;
  *mean = 0;
  if (!d) return;
  ph_precond_diag(p, d);
  for (size_t i = 0; i < p->n; i++) {
    if (d[i] < *mn) *mn = d[i];
    if (d[i] > *mx) *mx = d[i];
    *mean += d[i];
  }
  *mean /= p->n ? (double)p->n : 1;
  free(d);
}

size_t ph_precond_trust_cap(ph_precond *p, double cap, double floor_div,
                            double *scratch, double *max_before,
                            double *max_after) {
  /* all diagonal entries first, for the global median (Kronecker blocks are
   * left alone: their damping bounds them) */
  size_t m = 0;
  double top = -INFINITY;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (b->kron || !b->u) continue;
    memcpy(scratch + m, b->u, b->size * sizeof *scratch);
    m += b->size;
    for (size_t k = 0; k < b->size; k++) top = fmax(top, b->u[k]);
  }
  *max_before = *max_after = m ? top : NAN;
  if (m == 0 || !(cap > 0 || floor_div > 0)) return 0;
  /* Medians, not means or maxima: the runaway entries the cap is for move
   * those but not the median. Per block, because blocks have their own
   * scales; but never below the median over all of U, because a small bias
   * block can have most of its entries at the 1e-8 floor, and its own
   * median would then freeze it (measured: docs/optimisers.md). */
  double all = ph_stats_quantile_inplace(scratch, m, 0.5);
  size_t n_capped = 0;
  double after = -INFINITY;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (b->kron || !b->u || b->size == 0) continue;
    memcpy(scratch, b->u, b->size * sizeof *scratch);
    double med = ph_stats_quantile_inplace(scratch, b->size, 0.5);
    double sc = fmax(med, all);
    double limit = cap > 0 ? cap * sc : INFINITY;
    /* the floor: a refresh's diagonal fit of a coupled metric drives some
     * entries to the 1e-8 clip, which freezes those parameters (measured:
     * docs/optimisers.md, second round) */
    double low = floor_div > 0 ? sc / floor_div : 0;
    for (size_t k = 0; k < b->size; k++) {
      if (b->u[k] > limit) {
        b->u[k] = limit;
        n_capped++;
      } else if (b->u[k] < low) {
        b->u[k] = low;
        n_capped++;
      }
      after = fmax(after, b->u[k]);
    }
  }
  *max_after = after;
  return n_capped;
}

/* Symmetrise M (m, m) in place and floor its eigenvalues (scratch Q, lam,
 * W: (m, m), (m), (m, m)). */
static int spd_factor(double *M, size_t m, double *Q, double *lam, double *W) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < i; j++)
      M[i * m + j] = M[j * m + i] = 0.5 * (M[i * m + j] + M[j * m + i]);
  /* already above the floor? Cholesky of M − floor·I */
  memcpy(Q, M, m * m * sizeof *Q);
  for (size_t i = 0; i < m; i++) Q[i * m + i] -= PH_PRECOND_EIG_FLOOR;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, Q, (lapack_int)m) ==
      0)
    return 0;
  if (sym_eig(M, m, Q, lam))
    return -1; /* floored λ, eigenvectors in Q's columns */
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++) W[i * m + k] = Q[i * m + k] * lam[k];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)m,
              1.0, W, (int)m, Q, (int)m, 0.0, M, (int)m);
  for (size_t i = 0; i < m; i++) /* exact symmetry after rounding */
    for (size_t j = 0; j < i; j++) M[i * m + j] = M[j * m + i];
  return 0;
}

ph_status ph_precond_project_spd(ph_precond *p, ph_error *err) {
  size_t mmax = 0;
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    if (b->kron) {
      if (b->rows > mmax) mmax = b->rows;
      if (b->cols > mmax) mmax = b->cols;
    }
  }
  double *Q = NULL, *W = NULL, *lam = NULL;
  if (mmax) {
    Q = malloc(mmax * mmax * sizeof *Q);
    W = malloc(mmax * mmax * sizeof *W);
    lam = malloc(mmax * sizeof *lam);
    if (!Q || !W || !lam) {
      free(Q), free(W), free(lam);
      return ph_error_set(err, PH_ERR_NOMEM, "preconditioner: out of memory");
    }
  }
  ph_status s = PH_OK;
  for (size_t i = 0; i < p->n_blocks && s == PH_OK; i++) {
    pblock *b = &p->b[i];
    b->dirty = 1;
    if (!b->kron) {
      for (size_t k = 0; k < b->size; k++)
        if (!(b->u[k] >= PH_PRECOND_EIG_FLOOR)) b->u[k] = PH_PRECOND_EIG_FLOOR;
    } else if (spd_factor(b->A, b->rows, Q, lam, W) ||
               spd_factor(b->B, b->cols, Q, lam, W)) {
      s = ph_error_set(
          err, PH_ERR_NUMERIC,
          "preconditioner: eigendecomposition of a Kronecker factor of "
          "block %zu failed (non-finite entries?)",
          i);
    }
  }
  free(Q), free(W), free(lam);
  return s;
}

/* Block-internal raw arrays, for the LLQR inner loop. */
double *ph_precond_block_data(ph_precond *p, size_t i, int which, size_t *len);
double *ph_precond_block_data(ph_precond *p, size_t i, int which, size_t *len) {
  pblock *b = &p->b[i];
  b->dirty = 1;
  if (!b->kron) {
    *len = which == 0 ? b->size : 0;
    return which == 0 ? b->u : NULL;
  }
  *len = which == 0 ? b->rows * b->rows : b->cols * b->cols;
  return which == 0 ? b->A : b->B;
}

void ph_precond_block_range(const ph_precond *p, size_t i, size_t *off,
                            size_t *size);
void ph_precond_block_range(const ph_precond *p, size_t i, size_t *off,
                            size_t *size) {
  *off = p->b[i].off;
  *size = p->b[i].size;
}

size_t ph_precond_n_blocks(const ph_precond *p);
size_t ph_precond_n_blocks(const ph_precond *p) {
  return p->n_blocks;
}
int ph_precond_block_is_kron(const ph_precond *p, size_t i);
int ph_precond_block_is_kron(const ph_precond *p, size_t i) {
  return p->b[i].kron;
}

size_t ph_precond_flat_size(const ph_precond *p) {
  size_t s = 0;
  for (size_t i = 0; i < p->n_blocks; i++)
    s += p->b[i].kron
             ? p->b[i].rows * p->b[i].rows + p->b[i].cols * p->b[i].cols
             : p->b[i].size;
  return s;
}

void ph_precond_to_flat(const ph_precond *p, double *out) {
  for (size_t i = 0; i < p->n_blocks; i++) {
    const pblock *b = &p->b[i];
    if (!b->kron) {
      memcpy(out, b->u, b->size * sizeof *out);
      out += b->size;
    } else {
      memcpy(out, b->A, b->rows * b->rows * sizeof *out);
      out += b->rows * b->rows;
      memcpy(out, b->B, b->cols * b->cols * sizeof *out);
      out += b->cols * b->cols;
    }
  }
}

ph_status ph_precond_from_flat(ph_precond *p, const double *flat, size_t len,
                               ph_error *err) {
  if (len != ph_precond_flat_size(p))
    return ph_error_set(err, PH_ERR_FORMAT,
                        "preconditioner: %zu values, structure needs %zu", len,
                        ph_precond_flat_size(p));
  for (size_t i = 0; i < p->n_blocks; i++) {
    pblock *b = &p->b[i];
    b->dirty = 1;
    if (!b->kron) {
      memcpy(b->u, flat, b->size * sizeof *flat);
      flat += b->size;
    } else {
      memcpy(b->A, flat, b->rows * b->rows * sizeof *flat);
      flat += b->rows * b->rows;
      memcpy(b->B, flat, b->cols * b->cols * sizeof *flat);
      flat += b->cols * b->cols;
    }
  }
  return PH_OK;
}
