/* operators.c: Hessian, GGN, sandwich S A S, block restriction, dense and
 * diagonal operators behind ph_linop (see operators.h).
 *
 * Hessian and GGN products come from the objective (Pearlmutter 1994:
 * forward-over-reverse); this file only adapts them. It does not symmetrise:
 * autodiff products are symmetric to rounding, which Lanczos tolerates.
 * The preconditioned operator P^{1/2} A P^{1/2} is a sandwich whose S is
 * the geometry's P^{1/2} (precond/geom.h); linalg knows no preconditioner.
 */
#include "linalg/operators.h"

#include <cblas.h>
#include <string.h>

#include "core/alloc.h"

typedef enum {
  OP_HESS,
  OP_GGN,
  OP_SANDWICH,
  OP_BLOCK,
  OP_DENSE,
  OP_DIAG
} op_kind;

struct ph_op {
  ph_linop lin;
  op_kind kind;
  /* objective products */
  ph_objective *obj;
  const double *theta;
  ph_batch batch;
  const ph_batch *batch_ptr; /* &batch, or NULL for a batchless objective */
  /* sandwich / block */
  ph_linop *inner;
  const ph_linop *s; /* the S of a sandwich (borrowed) */
  size_t offset;
  double *buf1; /* (inner->n) */
  double *buf2; /* (inner->n) */
  size_t bk;    /* sandwich block products: buffers for bk vectors */
  double *bbuf1, *bbuf2;
  /* dense / diag */
  const double *a; /* (n, n) row-major or (n) */
};

static ph_status hess_apply(void *ctx, const double *v, double *out,
                            ph_error *err) {
  ph_op *op = ctx;
  return ph_objective_hvp(op->obj, op->theta, op->batch_ptr, v, out, err);
}

static ph_status ggn_apply(void *ctx, const double *v, double *out,
                           ph_error *err) {
  ph_op *op = ctx;
  return ph_objective_ggnvp(op->obj, op->theta, op->batch_ptr, v, out, err);
}

static ph_status hess_apply_block(void *ctx, size_t k, const double *V,
                                  double *W, ph_error *err) {
  ph_op *op = ctx;
  return ph_objective_hvp_block(op->obj, op->theta, op->batch_ptr, k, V, W,
                                err);
}

static ph_status ggn_apply_block(void *ctx, size_t k, const double *V,
                                 double *W, ph_error *err) {
  ph_op *op = ctx;
  return ph_objective_ggnvp_block(op->obj, op->theta, op->batch_ptr, k, V, W,
                                  err);
}

/* S A S on k vectors: k applies of S, one block product of A, k of S (the
 * k-vector buffers grow on first use and are kept). */
static ph_status sandwich_apply_block(void *ctx, size_t k, const double *V,
                                      double *W, ph_error *err) {
  ph_op *op = ctx;
  size_t n = op->lin.n;
  if (k > op->bk) {
    ph_free(op->bbuf1);
    ph_free(op->bbuf2);
    op->bk = 0;
    op->bbuf1 = ph_malloc(k * n, sizeof(double), "block buffers", err);
    op->bbuf2 = ph_malloc(k * n, sizeof(double), "block buffers", err);
    if (!op->bbuf1 || !op->bbuf2) return PH_ERR_NOMEM;
    op->bk = k;
  }
  for (size_t j = 0; j < k; j++)
    PH_TRY(ph_linop_apply_const(op->s, V + j * n, op->bbuf1 + j * n, err));
  PH_TRY(ph_linop_apply_block(op->inner, k, op->bbuf1, op->bbuf2, err));
  for (size_t j = 0; j < k; j++)
    PH_TRY(ph_linop_apply_const(op->s, op->bbuf2 + j * n, W + j * n, err));
  return PH_OK;
}

static ph_status sandwich_apply(void *ctx, const double *v, double *out,
                                ph_error *err) {
  ph_op *op = ctx;
  PH_TRY(ph_linop_apply_const(op->s, v, op->buf1, err));
  PH_TRY(ph_linop_apply(op->inner, op->buf1, op->buf2, err));
  return ph_linop_apply_const(op->s, op->buf2, out, err);
}

static ph_status block_apply(void *ctx, const double *v, double *out,
                             ph_error *err) {
  ph_op *op = ctx;
  size_t n = op->inner->n, m = op->lin.n;
  memset(op->buf1, 0, n * sizeof(double));
  memcpy(op->buf1 + op->offset, v, m * sizeof(double));
  PH_TRY(ph_linop_apply(op->inner, op->buf1, op->buf2, err));
  memcpy(out, op->buf2 + op->offset, m * sizeof(double));
  return PH_OK;
}

static ph_status dense_apply(void *ctx, const double *v, double *out,
                             ph_error *err) {
  ph_op *op = ctx;
  int n = (int)op->lin.n;
  cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, op->a, n, v, 1, 0.0, out,
              1);
  return PH_OK;
}

static ph_status diag_apply(void *ctx, const double *v, double *out,
                            ph_error *err) {
  ph_op *op = ctx;
  for (size_t i = 0; i < op->lin.n; i++) out[i] = op->a[i] * v[i];
  return PH_OK;
}

static ph_op *op_new(op_kind kind, size_t n,
                     ph_status (*apply)(void *, const double *, double *,
                                        ph_error *),
                     ph_error *err) {
  ph_op *op = ph_calloc(1, sizeof(*op), "linear operator", err);
  if (!op) return NULL;
  op->kind = kind;
  op->lin = ph_linop_make(n, op, apply);
  return op;
}

static ph_status op_objective(op_kind kind, ph_objective *o,
                              const double *theta, const ph_batch *b,
                              ph_op **out, ph_error *err) {
  *out = NULL;
  if (!o || !theta)
    return ph_error_set(err, PH_ERR_ARG,
                        "operator: objective and theta needed");
  if (kind == OP_GGN && !o->ggnvp)
    return ph_error_set(
        err, PH_ERR_UNSUPPORTED,
        "operator ggn: objective '%s' has no Gauss-Newton product",
        o->name ? o->name : "?");
  if (kind == OP_HESS && !o->hvp)
    return ph_error_set(
        err, PH_ERR_UNSUPPORTED,
        "operator hessian: objective '%s' has no Hessian product",
        o->name ? o->name : "?");
  ph_op *op = op_new(kind, o->n, kind == OP_GGN ? ggn_apply : hess_apply, err);
  if (!op) return PH_ERR_NOMEM;
  op->lin.apply_block = kind == OP_GGN ? ggn_apply_block : hess_apply_block;
  op->obj = o;
  op->theta = theta;
  if (b) {
    op->batch = *b;
    op->batch_ptr = &op->batch;
  }
  *out = op;
  return PH_OK;
}

ph_status ph_op_hessian_create(ph_objective *o, const double *theta,
                               const ph_batch *b, ph_op **out, ph_error *err) {
  return op_objective(OP_HESS, o, theta, b, out, err);
}

ph_status ph_op_ggn_create(ph_objective *o, const double *theta,
                           const ph_batch *b, ph_op **out, ph_error *err) {
  return op_objective(OP_GGN, o, theta, b, out, err);
}

static int op_buffers(ph_op *op, size_t n, ph_error *err) {
  op->buf1 = ph_calloc(n, sizeof(double), "operator buffer", err);
  op->buf2 = ph_calloc(n, sizeof(double), "operator buffer", err);
  return op->buf1 && op->buf2;
}

ph_status ph_op_sandwich_create(ph_linop *inner, const ph_linop *s, ph_op **out,
                                ph_error *err) {
  *out = NULL;
  if (!inner || !s)
    return ph_error_set(err, PH_ERR_ARG,
                        "sandwich operator: inner and S needed");
  if (s->n != inner->n)
    return ph_error_set(
        err, PH_ERR_ARG,
        "sandwich operator: S has dimension %zu, the operator %zu", s->n,
        inner->n);
  ph_op *op = op_new(OP_SANDWICH, inner->n, sandwich_apply, err);
  if (!op) return PH_ERR_NOMEM;
  op->lin.apply_block = sandwich_apply_block;
  op->inner = inner;
  op->s = s;
  if (!op_buffers(op, inner->n, err)) {
    ph_op_free(op);
    return PH_ERR_NOMEM;
  }
  *out = op;
  return PH_OK;
}

ph_status ph_op_block_create(ph_linop *inner, size_t offset, size_t size,
                             ph_op **out, ph_error *err) {
  *out = NULL;
  if (!inner || size == 0 || offset > inner->n || size > inner->n - offset)
    return ph_error_set(err, PH_ERR_ARG,
                        "block operator: range [%zu, %zu) outside 0..%zu",
                        offset, offset + size, inner ? inner->n : 0);
  ph_op *op = op_new(OP_BLOCK, size, block_apply, err);
  if (!op) return PH_ERR_NOMEM;
  op->inner = inner;
  op->offset = offset;
  if (!op_buffers(op, inner->n, err)) {
    ph_op_free(op);
    return PH_ERR_NOMEM;
  }
  *out = op;
  return PH_OK;
}

ph_status ph_op_dense_create(size_t n, const double *a, ph_op **out,
                             ph_error *err) {
  *out = NULL;
  if (!a || n == 0 || n > (size_t)1 << 30)
    return ph_error_set(err, PH_ERR_ARG, "dense operator: bad matrix (n = %zu)",
                        n);
  ph_op *op = op_new(OP_DENSE, n, dense_apply, err);
  if (!op) return PH_ERR_NOMEM;
  op->a = a;
  *out = op;
  return PH_OK;
}

ph_status ph_op_diag_create(size_t n, const double *d, ph_op **out,
                            ph_error *err) {
  *out = NULL;
  if (!d || n == 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "diagonal operator: bad diagonal (n = %zu)", n);
  ph_op *op = op_new(OP_DIAG, n, diag_apply, err);
  if (!op) return PH_ERR_NOMEM;
  op->a = d;
  *out = op;
  return PH_OK;
}

ph_linop *ph_op_linop(ph_op *op) {
  return op ? &op->lin : NULL;
}

void ph_op_free(ph_op *op) {
  if (!op) return;
  ph_free(op->buf1);
  ph_free(op->buf2);
  ph_free(op->bbuf1);
  ph_free(op->bbuf2);
  ph_free(op);
}
