/* escape_map.c: regime maps. A map is a grid over two of η, η/η*, ρ,
 * ρ/width, depth, π, β and K; each cell is an independent escape experiment
 * (ph_escape_run_cell with the cell index as its RNG key), so cells can be
 * run in any order, on any process, and a killed map resumes from its
 * journal. The final map.csv is written atomically when every cell is in.
 * Per cell and optimiser: counts of each outcome (the plot derives rates
 * and Wilson intervals from them; map.csv carries the escape interval).
 * In an MPI job (core/dist.h) the cells left are dealt round robin to the
 * ranks; finished cells stream to rank 0, which alone keeps the journal and
 * writes the files (the journal resumes with any rank count).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/dist.h"
#include "core/stats.h"
#include "potholes/escape.h"
#include "potholes/toys.h"

const char *const ph_map_axis_names[PH_AXIS_COUNT] = {
    "eta", "eta_rel", "rho", "rho_rel", "depth", "pi", "beta", "K"};

static int axis_of(const char *s, size_t len) {
  for (int a = 0; a < PH_AXIS_COUNT; a++)
    if (strlen(ph_map_axis_names[a]) == len &&
        strncmp(ph_map_axis_names[a], s, len) == 0)
      return a;
  if (len == 1 && s[0] == 'k') return PH_AXIS_K;
  return -1;
}

ph_status ph_map_parse_axes(ph_map_spec *m, const char *s, ph_error *err) {
  const char *comma = strchr(s, ',');
  if (!comma || strchr(comma + 1, ','))
    return ph_error_set(err, PH_ERR_ARG,
                        "--map '%s': expected two axes AXIS1,AXIS2", s);
  int a = axis_of(s, (size_t)(comma - s)),
      b = axis_of(comma + 1, strlen(comma + 1));
  if (a < 0 || b < 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "--map '%s': axes are eta, eta_rel, rho, rho_rel, "
                        "depth, pi, beta, K",
                        s);
  if (a == b || (a / 2 == b / 2 && a < PH_AXIS_DEPTH))
    return ph_error_set(err, PH_ERR_ARG,
                        "--map '%s': the two axes set the same quantity", s);
  m->ax[0] = (ph_map_axis)a;
  m->ax[1] = (ph_map_axis)b;
  return PH_OK;
}

double ph_map_value(const ph_map_spec *m, int a, size_t i) {
  size_t n = a == 0 ? m->nx : m->ny;
  double f = n > 1 ? (double)i / (double)(n - 1) : 0;
  if (m->logscale[a])
    return exp(log(m->lo[a]) + f * (log(m->hi[a]) - log(m->lo[a])));
  return m->lo[a] + f * (m->hi[a] - m->lo[a]);
}

ph_status ph_map_validate(const ph_escape_config *base, const ph_map_spec *m,
                          ph_error *err) {
  ph_toy_spec spec;
  PH_TRY(ph_toy_spec_parse(base->landscape, &spec, err));
  size_t cells = m->nx * m->ny;
  if (m->nx == 0 || m->ny == 0 || cells > PH_MAP_MAX_CELLS)
    return ph_error_set(err, PH_ERR_ARG,
                        "--grid %zux%zu: a map has 1 to %d cells", m->nx, m->ny,
                        PH_MAP_MAX_CELLS);
  double work = (double)cells * (double)base->n_opt * (double)base->seeds *
                (double)base->steps;
  if (work > PH_MAP_MAX_STEPS)
    return ph_error_set(err, PH_ERR_ARG,
                        "map of %.3g optimiser steps is larger than the "
                        "limit %.3g (cells x optimisers x seeds x steps)",
                        work, PH_MAP_MAX_STEPS);
  for (int a = 0; a < 2; a++) {
    ph_map_axis ax = m->ax[a];
    const char *nm = ph_map_axis_names[ax];
    double lo = m->lo[a], hi = m->hi[a];
    if (!(lo <= hi) || (m->logscale[a] && !(lo > 0)))
      return ph_error_set(err, PH_ERR_ARG,
                          "axis %s: range %g:%g (log scale needs lo > 0)", nm,
                          lo, hi);
    if ((ax == PH_AXIS_DEPTH || ax == PH_AXIS_PI) &&
        spec.kind != PH_TOY_POTHOLE2D && spec.kind != PH_TOY_POTHOLEND)
      return ph_error_set(err, PH_ERR_ARG,
                          "axis %s needs a pothole2d or potholeNd landscape",
                          nm);
    int bad = 0;
    switch (ax) {
    case PH_AXIS_ETA:
    case PH_AXIS_ETA_REL:
    case PH_AXIS_DEPTH:
    case PH_AXIS_PI: bad = !(lo > 0); break;
    case PH_AXIS_RHO:
    case PH_AXIS_RHO_REL: bad = !(lo >= 0); break;
    case PH_AXIS_BETA: bad = !(lo >= 0 && hi < 1); break;
    case PH_AXIS_K: bad = !(lo >= 0 && hi <= 1e8); break;
    default: break;
    }
    if (bad)
      return ph_error_set(err, PH_ERR_ARG,
                          "axis %s: range %g:%g out of bounds (eta, depth, "
                          "pi > 0; rho >= 0; beta in [0, 1); K >= 0)",
                          nm, lo, hi);
  }
  return PH_OK;
}

static ph_status append_key(ph_escape_config *c, const char *key, double v,
                            ph_error *err) {
  size_t len = strlen(c->landscape);
  int w = snprintf(c->landscape + len, sizeof c->landscape - len, "%s%s=%.17g",
                   strchr(c->landscape, ':') ? "," : ":", key, v);
  if (w < 0 || (size_t)w >= sizeof c->landscape - len)
    return ph_error_set(err, PH_ERR_ARG, "landscape spec too long");
  return PH_OK;
}

ph_status ph_map_cell_config(const ph_escape_config *base, const ph_map_spec *m,
                             size_t cell, ph_escape_config *out,
                             ph_error *err) {
  *out = *base;
  size_t ij[2] = {cell % m->nx, cell / m->nx};
  ph_toy_spec spec;
  PH_TRY(ph_toy_spec_parse(base->landscape, &spec, err));
  int nd = spec.kind == PH_TOY_POTHOLEND;
  /* the landscape first (η* and the width depend on it), then the rest */
  for (int pass = 0; pass < 2; pass++)
    for (int a = 0; a < 2; a++) {
      double v = ph_map_value(m, a, ij[a]);
      ph_map_axis ax = m->ax[a];
      int landscape_axis = ax == PH_AXIS_DEPTH || ax == PH_AXIS_PI;
      if ((pass == 0) != landscape_axis) continue;
      if (ax == PH_AXIS_DEPTH) {
        PH_TRY(append_key(out, nd ? "depth" : "d", v, err));
      } else if (ax == PH_AXIS_PI) {
        /* nominal π = (depth/width²)/basin curvature: set the curvature */
        ph_toy_spec cs;
        PH_TRY(ph_toy_spec_parse(out->landscape, &cs, err));
        double d = ph_toy_spec_get(&cs, nd ? "depth" : "d");
        double s = ph_toy_spec_get(&cs, nd ? "width" : "sx");
        PH_TRY(append_key(out, nd ? "lmin" : "a", d / (s * s) / v, err));
      } else if (ax == PH_AXIS_ETA) {
        out->lr = v;
      } else if (ax == PH_AXIS_ETA_REL || ax == PH_AXIS_RHO_REL) {
        ph_escape_pit pi;
        PH_TRY(ph_escape_pit_info(out, &pi, err));
        if (ax == PH_AXIS_ETA_REL) {
          if (!isfinite(pi.lr_threshold))
            return ph_error_set(err, PH_ERR_ARG,
                                "eta_rel: no positive curvature along the "
                                "pit direction");
          out->lr = v * pi.lr_threshold;
        } else {
          out->rho = v * pi.width;
        }
      } else if (ax == PH_AXIS_RHO) {
        out->rho = v;
      } else if (ax == PH_AXIS_BETA) {
        out->ema_beta = v;
      } else if (ax == PH_AXIS_K) {
        out->refresh_every = (size_t)llround(v);
      }
    }
  return ph_escape_config_validate(out, err);
}

ph_status ph_map_run_one(const ph_escape_config *base, const ph_map_spec *m,
                         size_t cell, ph_map_cell *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  ph_escape_config c;
  PH_TRY(ph_map_cell_config(base, m, cell, &c, err));
  ph_escape_result r;
  PH_TRY(ph_escape_run_cell(&c, cell, &r, err));
  out->x = ph_map_value(m, 0, cell % m->nx);
  out->y = ph_map_value(m, 1, cell / m->nx);
  out->lr = c.lr;
  out->rho = c.rho;
  out->lr_rel = c.lr / r.lr_threshold;
  out->pi_v = r.pit_pi;
  for (size_t k = 0; k < r.n_rows; k++) {
    memcpy(out->count[k], r.rows[k].count, sizeof out->count[k]);
    out->median[k] = r.rows[k].median_escape_step;
  }
  ph_escape_result_free(&r);
  return PH_OK;
}

/* FNV-1a of the configuration: a journal only resumes the same map. */
static unsigned long long fingerprint(const ph_escape_config *base,
                                      const ph_map_spec *m) {
  cJSON *j = ph_escape_config_json(base, NULL);
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  unsigned long long h = 1469598103934665603ULL;
  for (const char *p = s; p && *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  char buf[256];
  snprintf(buf, sizeof buf, "%d %d %.17g %.17g %.17g %.17g %zu %zu %d %d",
           (int)m->ax[0], (int)m->ax[1], m->lo[0], m->hi[0], m->lo[1], m->hi[1],
           m->nx, m->ny, m->logscale[0], m->logscale[1]);
  for (const char *p = buf; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  free(s);
  cJSON_Delete(j);
  return h;
}

/* Read the cells of a journal with the same fingerprint; done[c] = 1. */
static ph_status read_journal(const char *path, unsigned long long fp,
                              size_t cells, size_t n_opt, ph_map_cell *res,
                              unsigned char *done, ph_error *err) {
  FILE *f = fopen(path, "r");
  if (!f) return PH_OK; /* nothing to resume */
  char line[1024];
  unsigned long long got = 0;
  if (!fgets(line, sizeof line, f) ||
      sscanf(line, "# pothole map journal %llx", &got) != 1 || got != fp) {
    fclose(f);
    return ph_error_set(err, PH_ERR_ARG,
                        "%s belongs to a different map configuration "
                        "(remove it or run without --resume)",
                        path);
  }
  ph_map_cell cur;
  long cur_cell = -1;
  while (fgets(line, sizeof line, f)) {
    size_t c, k, cnt[PH_OUT_COUNT];
    double med, x, y, lr, rho, lr_rel, pi_v;
    if (sscanf(line, "cell %zu %lg %lg %lg %lg %lg %lg", &c, &x, &y, &lr, &rho,
               &lr_rel, &pi_v) == 7 &&
        c < cells) {
      memset(&cur, 0, sizeof cur);
      cur.x = x, cur.y = y, cur.lr = lr, cur.rho = rho, cur.lr_rel = lr_rel;
      cur.pi_v = pi_v;
      cur_cell = (long)c;
    } else if (sscanf(line, "opt %zu %zu %zu %zu %zu %lg", &k, &cnt[0], &cnt[1],
                      &cnt[2], &cnt[3], &med) == 6 &&
               cur_cell >= 0 && k < n_opt) {
      memcpy(cur.count[k], cnt, sizeof cnt);
      cur.median[k] = med;
    } else if (sscanf(line, "done %zu", &c) == 1 && (long)c == cur_cell) {
      res[c] = cur;
      done[c] = 1;
      cur_cell = -1;
    } else {
      cur_cell = -1; /* a torn last line from a kill: that cell reruns */
    }
  }
  fclose(f);
  return PH_OK;
}

static ph_status write_map_csv(const ph_escape_config *base,
                               const ph_map_spec *m, const ph_map_cell *res,
                               const char *path, ph_error *err) {
  char head[512];
  snprintf(head, sizeof head,
           "cell,i,j,%s,%s,lr,rho,lr_rel,pi_v,optimiser,seeds,escaped,"
           "trapped,orbiting,diverged,escape_rate,ci_lo,ci_hi,"
           "median_escape_step",
           ph_map_axis_names[m->ax[0]], ph_map_axis_names[m->ax[1]]);
  ph_csv c;
  PH_TRY(ph_csv_open(&c, path, head, err));
  size_t cells = m->nx * m->ny;
  for (size_t q = 0; q < cells; q++)
    for (size_t k = 0; k < base->n_opt; k++) {
      const ph_map_cell *r = &res[q];
      ph_csv_int(&c, (long long)q);
      ph_csv_int(&c, (long long)(q % m->nx));
      ph_csv_int(&c, (long long)(q / m->nx));
      ph_csv_num(&c, r->x);
      ph_csv_num(&c, r->y);
      ph_csv_num(&c, r->lr);
      ph_csv_num(&c, r->rho);
      ph_csv_num(&c, r->lr_rel);
      ph_csv_num(&c, r->pi_v);
      ph_csv_str(&c, base->opt[k]);
      ph_csv_int(&c, (long long)base->seeds);
      for (int o = 0; o < PH_OUT_COUNT; o++)
        ph_csv_int(&c, (long long)r->count[k][o]);
      double lo, hi;
      ph_stats_wilson(r->count[k][PH_OUT_ESCAPED], base->seeds, PH_STATS_LEVEL,
                      &lo, &hi);
      ph_csv_num(&c, (double)r->count[k][PH_OUT_ESCAPED] / (double)base->seeds);
      ph_csv_num(&c, lo);
      ph_csv_num(&c, hi);
      ph_csv_num(&c, r->median[k]);
      ph_csv_end_row(&c);
    }
  return ph_csv_commit(&c, err);
}

/* One journal entry: a cell's line, its optimisers' lines, "done". */
static void journal_cell(FILE *jf, size_t q, const ph_map_cell *r,
                         size_t n_opt) {
  fprintf(jf, "cell %zu %.17g %.17g %.17g %.17g %.17g %.17g\n", q, r->x, r->y,
          r->lr, r->rho, r->lr_rel, r->pi_v);
  for (size_t k = 0; k < n_opt; k++)
    fprintf(jf, "opt %zu %zu %zu %zu %zu %.17g\n", k, r->count[k][0],
            r->count[k][1], r->count[k][2], r->count[k][3], r->median[k]);
  fprintf(jf, "done %zu\n", q);
}

/* A finished cell on its way to rank 0 of an MPI job. */
typedef struct map_rec {
  uint64_t cell;
  ph_map_cell r;
} map_rec;

typedef struct map_sink {
  FILE *jf;
  size_t n_opt, cells;
  ph_map_cell *res;
  unsigned char *done;
  int io_failed;
} map_sink;

/* Rank 0: cells computed elsewhere go into the results and the journal. */
static void merge_cells(void *ctx, const void *records, size_t n) {
  map_sink *s = ctx;
  const map_rec *r = records;
  for (size_t i = 0; i < n; i++) {
    size_t q = (size_t)r[i].cell;
    if (q >= s->cells || s->done[q]) continue;
    s->res[q] = r[i].r;
    s->done[q] = 1;
    journal_cell(s->jf, q, &s->res[q], s->n_opt);
  }
  if (n && (fflush(s->jf) != 0 || fsync(fileno(s->jf)) != 0)) s->io_failed = 1;
}

ph_status ph_map_run(const ph_escape_config *base, const ph_map_spec *m,
                     const char *dir, int resume, size_t stop_after,
                     int *complete, size_t *cells_run, ph_error *err) {
  *complete = 0;
  *cells_run = 0;
  PH_TRY(ph_map_validate(base, m, err));
  PH_TRY(ph_escape_config_validate(base, err));
  size_t cells = m->nx * m->ny;
  int rank = ph_dist_rank(), ranks = ph_dist_size(), dist = ranks > 1;
  if (dist && cells < (size_t)ranks)
    return ph_error_set(err, PH_ERR_ARG,
                        "%d processes for a map of %zu cells: start at most "
                        "%zu",
                        ranks, cells, cells);
  char *jpath = ph_path_join(dir, "map.journal", err);
  char *cpath = ph_path_join(dir, "map.csv", err);
  char *jspath = ph_path_join(dir, "map.json", err);
  ph_map_cell *res = ph_calloc(cells, sizeof *res, "map cells", err);
  unsigned char *done = ph_calloc(cells, 1, "map cells", err);
  ph_dist_stream *ds = NULL;
  ph_status st =
      dist ? ph_dist_stream_create(sizeof(map_rec), &ds, err) : PH_OK;
  FILE *jf = NULL;
  char *tpath = NULL;
  if (!(jpath && cpath && jspath && res && done)) st = PH_ERR_NOMEM;
  unsigned long long fp = fingerprint(base, m);
  /* Rank 0 alone owns DIR: the journal, map.csv and map.json. */
  if (st == PH_OK && rank == 0) st = ph_mkdir_p(dir, err);
  if (st == PH_OK && rank == 0 && resume)
    st = read_journal(jpath, fp, cells, base->n_opt, res, done, err);
  if (st == PH_OK && rank == 0) {
    /* rewrite the journal with what is kept (torn lines go away) under a
     * temporary name, then rename it over the old one */
    tpath = ph_path_join(dir, "map.journal.tmp", err);
    jf = tpath ? fopen(tpath, "w") : NULL;
    if (!jf)
      st = ph_error_set(err, PH_ERR_IO, "cannot write %s/map.journal", dir);
  }
  if (st == PH_OK && rank == 0) {
    fprintf(jf, "# pothole map journal %llx\n", fp);
    for (size_t q = 0; q < cells; q++)
      if (done[q]) journal_cell(jf, q, &res[q], base->n_opt);
    if (fflush(jf) != 0 || fsync(fileno(jf)) != 0 || fclose(jf) != 0 ||
        rename(tpath, jpath) != 0)
      st = ph_error_set(err, PH_ERR_IO, "writing %s", jpath);
    jf = st == PH_OK ? fopen(jpath, "a") : NULL;
    if (st == PH_OK && !jf)
      st = ph_error_set(err, PH_ERR_IO, "cannot append to %s", jpath);
  }
  /* In a job every rank arrives here, failed or not, with the same map. */
  if (dist) st = ph_dist_agree(st, fp, NULL, err);
  if (st != PH_OK) {
    ph_dist_stream_free(ds);
    ds = NULL;
    goto out;
  }
  if (dist) ph_dist_bcast(done, cells, err);
  map_sink sink = {jf, base->n_opt, cells, res, done, 0};
  /* The cells left, in index order; rank r runs positions r, r + R, ...
   * (listed before the loop: rank 0 marks other ranks' cells done while
   * it runs its own). */
  size_t *todo = ph_calloc(cells, sizeof *todo, "map cells", err), n_todo = 0;
  if (!todo) st = PH_ERR_NOMEM;
  for (size_t q = 0, pos = 0; todo && q < cells; q++)
    if (!done[q] && ph_dist_owner(pos++) == rank) todo[n_todo++] = q;
  for (size_t t = 0; st == PH_OK && t < n_todo; t++) {
    size_t q = todo[t];
    if (stop_after && *cells_run >= stop_after) break;
    if (dist && ph_dist_stream_stopping(ds)) break;
    ph_map_cell cur;
    st = ph_map_run_one(base, m, q, &cur, err);
    if (st != PH_OK) {
      ph_error_prefix(err, "map cell %zu: ", q);
      break;
    }
    if (rank == 0) {
      res[q] = cur;
      journal_cell(jf, q, &res[q], base->n_opt);
      if (fflush(jf) != 0 || fsync(fileno(jf)) != 0)
        st = ph_error_set(err, PH_ERR_IO, "writing %s", jpath);
      done[q] = 1;
    } else {
      map_rec rec;
      memset(&rec, 0, sizeof rec);
      rec.cell = q;
      rec.r = cur;
      st = ph_dist_stream_send(ds, &rec, 1, err);
    }
    (*cells_run)++;
    if (dist && st == PH_OK)
      st = ph_dist_stream_poll(ds, merge_cells, &sink, err);
    if (st == PH_OK && sink.io_failed)
      st = ph_error_set(err, PH_ERR_IO, "writing %s", jpath);
  }
  if (dist) {
    /* Same outcome everywhere: the lowest rank's failure, else success. */
    ph_dist_outcome mine, tot;
    memset(&mine, 0, sizeof mine);
    mine.status = st;
    mine.computed = *cells_run;
    if (st != PH_OK)
      snprintf(mine.msg, sizeof mine.msg, "%s", err ? err->msg : "");
    if (st != PH_OK || ph_dist_stream_stopping(ds))
      ph_dist_stream_stop(ds, NULL);
    ph_dist_stream_finish(ds, &mine, NULL);
    ph_error ce;
    ph_error_clear(&ce);
    st = ph_dist_stream_close(ds, merge_cells, &sink, &tot, &ce);
    ds = NULL;
    if (st != PH_OK && err) *err = ce;
    if (st == PH_OK && sink.io_failed)
      st = ph_error_set(err, PH_ERR_IO, "writing %s", jpath);
    *cells_run = tot.computed;
  }
  if (jf && fclose(jf) != 0 && st == PH_OK)
    st = ph_error_set(err, PH_ERR_IO, "writing %s", jpath);
  jf = NULL;
  size_t n_done = 0;
  for (size_t q = 0; q < cells; q++) n_done += done[q];
  if (dist) ph_dist_bcast(&n_done, sizeof n_done, NULL);
  if (st == PH_OK && n_done == cells && rank != 0) *complete = 1;
  if (st == PH_OK && n_done == cells && rank == 0) {
    st = write_map_csv(base, m, res, cpath, err);
    cJSON *root = st == PH_OK ? cJSON_CreateObject() : NULL;
    if (st == PH_OK && !root) st = PH_ERR_NOMEM;
    if (st == PH_OK) {
      cJSON_AddItemToObject(root, "config", ph_escape_config_json(base, NULL));
      cJSON *mj = cJSON_AddObjectToObject(root, "map");
      for (int a = 0; a < 2; a++) {
        cJSON *aj = cJSON_AddObjectToObject(mj, a == 0 ? "x" : "y");
        cJSON_AddStringToObject(aj, "axis", ph_map_axis_names[m->ax[a]]);
        ph_json_add_number(aj, "lo", m->lo[a]);
        ph_json_add_number(aj, "hi", m->hi[a]);
        ph_json_add_number(aj, "n", (double)(a == 0 ? m->nx : m->ny));
        cJSON_AddBoolToObject(aj, "log", m->logscale[a]);
      }
      cJSON_AddStringToObject(
          root, "rng",
          "run r of cell c uses streams keyed by (seed, c, r), the same for "
          "every optimiser; results do not depend on threads or order");
      ph_json_add_stamp(root);
      st = ph_json_write_file(jspath, root, err);
      if (st != PH_OK) remove(cpath);
    }
    cJSON_Delete(root);
    if (st == PH_OK) {
      remove(jpath);
      *complete = 1;
    }
  }
  ph_free(todo);
out:
  if (jf) fclose(jf);
  ph_free(jpath);
  ph_free(tpath);
  ph_free(cpath);
  ph_free(jspath);
  ph_free(res);
  ph_free(done);
  return st;
}
