/* study_report.c: DIR/runs.csv (one row per final run), DIR/study.csv (one
 * row per task × optimiser: means with Student-t 95 % intervals over the
 * seeds, through core/stats.h) and DIR/study.md (the same tables with the
 * settings rule, the selected rates, the differences from sgd with Welch
 * intervals, and the command behind every number). Numbers are read back
 * from the files the commands wrote, never recomputed. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "core/stats.h"
#include "optim/watch.h"
#include "study.h"

static double json_num(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b && x) x = cJSON_GetObjectItemCaseSensitive(x, b);
  return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static double lambda_max(const char *dir, const char *sub) {
  char p[1200];
  snprintf(p, sizeof p, "%s/%s/spectrum.json", dir, sub);
  cJSON *j = NULL;
  ph_error err = {0};
  if (!ph_path_exists(p) || ph_json_read_file(p, &j, &err)) return NAN;
  double v = json_num(j, "lambda_max", NULL);
  cJSON_Delete(j);
  return v;
}

/* Data rows of DIR/events.csv (pothole events, written by `train
 * --watch-every`); NaN when the run has no such file. */
static double count_events(const char *dir) {
  char p[1200];
  snprintf(p, sizeof p, "%s/events.csv", dir);
  FILE *fp = fopen(p, "r");
  if (!fp) return NAN;
  char line[4096];
  double n = -1; /* the header */
  while (fgets(line, sizeof line, fp))
    if (line[0] != '\n') n++;
  fclose(fp);
  return n < 0 ? 0 : n;
}

void study_run_read(const st_cfg *c, size_t t, size_t o, size_t seed,
                    st_run *r) {
  char dir[1024], p[1200];
  study_final_dir(c, t, o, seed, dir, sizeof dir);
  r->ok = 0;
  r->acc = r->loss = r->lmax = r->plmax = r->events = r->wall = r->pps = NAN;
  snprintf(p, sizeof p, "%s/run.json", dir);
  cJSON *j = NULL;
  ph_error err = {0};
  if (!ph_path_exists(p) || ph_json_read_file(p, &j, &err)) return;
  r->acc = json_num(j, "final", "test_acc");
  r->loss = json_num(j, "final", "test_loss");
  r->ok = isfinite(r->loss);
  r->wall = json_num(j, "wall_time", NULL);
  double steps = json_num(j, "config", "steps");
  double prod = json_num(j, "products", "gradient") +
                json_num(j, "products", "hvp") +
                json_num(j, "products", "ggnvp");
  r->pps = prod / steps;
  cJSON_Delete(j);
  r->lmax = lambda_max(dir, "lmax");
  r->plmax = lambda_max(dir, "plmax");
  r->events = count_events(dir);
}

int study_is_text(const st_task *k) {
  return strncmp(k->data, "text", 4) == 0;
}

/* Summary of the finite values among x[0..n). */
static ph_stats_summary summ(const double *x, size_t n) {
  double v[ST_MAX_SEEDS];
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) v[m++] = x[i];
  return ph_stats_summarise(v, 1, m, PH_STATS_LEVEL);
}

enum { F_ACC, F_LOSS, F_BPC, F_LMAX, F_PLMAX, F_EVENTS, F_WALL, F_PPS, NF };
static const char *const FNAME[NF] = {
    "test_acc",           "test_loss", "bits_per_char", "lambda_max",
    "precond_lambda_max", "events",    "wall_time",     "products_per_step"};

static void fields(const st_task *k, const st_run *r, double *v) {
  v[F_ACC] = r->ok ? r->acc : NAN;
  v[F_LOSS] = r->ok ? r->loss : NAN;
  v[F_BPC] = r->ok && study_is_text(k) ? r->loss / log(2.0) : NAN;
  v[F_LMAX] = r->lmax;
  v[F_PLMAX] = r->plmax;
  v[F_EVENTS] = r->events;
  v[F_WALL] = r->wall;
  v[F_PPS] = r->pps;
}

void study_summaries(const st_cfg *c, size_t t, size_t o, ph_stats_summary *out,
                     size_t *n_failed) {
  double v[NF][ST_MAX_SEEDS];
  *n_failed = 0;
  for (size_t s = 0; s < c->seeds; s++) {
    st_run r;
    study_run_read(c, t, o, s + 1, &r);
    double f[NF];
    fields(&c->tasks[t], &r, f);
    for (int k = 0; k < NF; k++) v[k][s] = f[k];
    *n_failed += !r.ok;
  }
  for (int k = 0; k < NF; k++) out[k] = summ(v[k], c->seeds);
}

/* "0.9712 ± 0.0034" (or "–" when nothing was measured). */
static void pm(FILE *fp, ph_stats_summary s) {
  if (s.n == 0)
    fprintf(fp, " – |");
  else if (s.n == 1 || !isfinite(s.half))
    fprintf(fp, " %.4g |", s.mean);
  else
    fprintf(fp, " %.4g ± %.2g |", s.mean, s.half);
}

static void write_csvs(const st_cfg *c, const st_sel *sel, FILE *runs,
                       FILE *study) {
  fprintf(runs, "task,optimizer,seed,lr,status");
  fprintf(study, "task,model,data,optimizer,lr,n_seeds,n_failed");
  for (int k = 0; k < NF; k++) {
    fprintf(runs, ",%s", FNAME[k]);
    fprintf(study, ",%s_mean,%s_lo,%s_hi", FNAME[k], FNAME[k], FNAME[k]);
  }
  fprintf(runs, "\n");
  fprintf(study, "\n");
  for (size_t t = 0; t < c->n_tasks; t++)
    for (size_t o = 0; o < c->n_opts; o++) {
      const st_task *k = &c->tasks[t];
      for (size_t s = 1; s <= c->seeds; s++) {
        st_run r;
        study_run_read(c, t, o, s, &r);
        double f[NF];
        fields(k, &r, f);
        fprintf(runs, "%s,%s,%zu,%.6g,%s", k->name, c->opts[o], s,
                sel->lr[t][o], r.ok ? "ok" : "failed");
        for (int q = 0; q < NF; q++)
          if (isfinite(f[q]))
            fprintf(runs, ",%.10g", f[q]);
          else
            fprintf(runs, ",");
        fprintf(runs, "\n");
      }
      ph_stats_summary sm[NF];
      size_t nf;
      study_summaries(c, t, o, sm, &nf);
      fprintf(study, "%s,%s,%s,%s,%.6g,%zu,%zu", k->name, k->model, k->data,
              c->opts[o], sel->lr[t][o], c->seeds, nf);
      for (int q = 0; q < NF; q++) {
        double v[3] = {sm[q].mean, sm[q].lo, sm[q].hi};
        for (int e = 0; e < 3; e++)
          if (sm[q].n && isfinite(v[e]))
            fprintf(study, ",%.10g", v[e]);
          else
            fprintf(study, ",");
      }
      fprintf(study, "\n");
    }
}

/* "higher"/"lower" when the interval d ± h excludes 0, "no" when it holds
 * it, "n/a" when it cannot be computed (fewer than two seeds). */
static const char *verdict(double d, double h) {
  if (!(isfinite(d) && isfinite(h))) return "n/a";
  return d - h > 0 ? "higher" : d + h < 0 ? "lower" : "no";
}

static void md_tables(const st_cfg *c, const st_sel *sel, FILE *fp) {
  fprintf(fp,
          "## Results (mean ± 95 %% t-interval half-width over %zu "
          "seeds)\n\n",
          c->seeds);
  fprintf(fp,
          "| task | optimiser | lr | failed | test acc | test loss | "
          "bits/char | λmax(H) | λmax(P½HP½) | pothole events | wall s | "
          "products/step |\n|---|---|---|---|---|---|---|---|---|---|---|---"
          "|\n");
  for (size_t t = 0; t < c->n_tasks; t++)
    for (size_t o = 0; o < c->n_opts; o++) {
      ph_stats_summary sm[NF];
      size_t nf;
      study_summaries(c, t, o, sm, &nf);
      fprintf(fp, "| %s | %s | %.3g | %zu/%zu |", c->tasks[t].name, c->opts[o],
              sel->lr[t][o], nf, c->seeds);
      for (int q = 0; q < NF; q++) pm(fp, sm[q]);
      fprintf(fp, "\n");
    }
  fprintf(fp, "\nλmax(P½HP½) uses the run's own slow P for llqr and "
              "llqr-sam, and llqr-sam's P of the same seed for the others. "
              "Pothole events are counted from events.csv (`train "
              "--watch-every`); – means the runs have none.\n\n");
  size_t sgd = c->n_opts;
  for (size_t o = 0; o < c->n_opts; o++)
    if (strcmp(c->opts[o], "sgd") == 0) sgd = o;
  if (sgd == c->n_opts) return;
  /* Each metric gets its own verdict: a difference in test loss (bits per
   * character on text) is as much a result as one in accuracy, whichever
   * way it points. */
  fprintf(fp, "## Differences from sgd (Welch 95 %% interval)\n\n"
              "A difference is separated when its interval excludes 0; "
              "each metric is judged on its own.\n\n"
              "| task | optimiser | Δ test acc | accuracy | Δ test loss | "
              "loss |\n|---|---|---|---|---|---|\n");
  for (size_t t = 0; t < c->n_tasks; t++) {
    ph_stats_summary base[NF];
    size_t nf;
    study_summaries(c, t, sgd, base, &nf);
    for (size_t o = 0; o < c->n_opts; o++) {
      if (o == sgd) continue;
      ph_stats_summary sm[NF];
      study_summaries(c, t, o, sm, &nf);
      double da, ha, dl, hl;
      ph_stats_welch(sm[F_ACC], base[F_ACC], PH_STATS_LEVEL, &da, &ha);
      ph_stats_welch(sm[F_LOSS], base[F_LOSS], PH_STATS_LEVEL, &dl, &hl);
      fprintf(fp, "| %s | %s | %+.3g ± %.2g | %s | %+.3g ± %.2g | %s |\n",
              c->tasks[t].name, c->opts[o], da, ha, verdict(da, ha), dl, hl,
              verdict(dl, hl));
    }
  }
  fprintf(fp, "\n");
}

static void md_commands(const st_cfg *c, const st_sel *sel, const ph_demo *d,
                        FILE *fp) {
  fprintf(fp,
          "## Commands\n\nEvery run is one of these commands (the "
          "full list with logs is in `logs/`; `--seed` runs over 1..%zu "
          "in the final phase):\n\n",
          c->seeds);
  for (size_t i = 0; i < d->n_jobs; i++) {
    const ph_demo_job *j = &d->jobs[i];
    /* one representative per (task, optimiser): seed 1 and its spectra */
    size_t len = strlen(j->name);
    if (len < 3 || strcmp(j->name + len - 3, "-s1") != 0) continue;
    char *cmd = ph_demo_command_line(j);
    fprintf(fp, "    %s\n", cmd ? cmd : "?");
    free(cmd);
  }
  fprintf(fp, "\nTuning runs: the same train commands with `--val N "
              "--seed 0` and each rate of the grid (`tune.csv`).\n\n");
  (void)sel;
}

/* Which binary made the directory (study.cfg's build line) and whether
 * another was accepted later (builds.txt, --accept-build). */
static void md_build(const st_cfg *c, FILE *md) {
  char path[1200], line[512];
  snprintf(path, sizeof path, "%s/study.cfg", c->dir);
  FILE *fp = fopen(path, "r");
  while (fp && fgets(line, sizeof line, fp))
    if (strncmp(line, "build ", 6) == 0) {
      line[strcspn(line, "\n")] = '\0';
      fprintf(md,
              "Made by `%s`; `study.cfg` records it with every default of "
              "`pothole train` the runs resolved.",
              line + 6);
      break;
    }
  if (fp) fclose(fp);
  snprintf(path, sizeof path, "%s/builds.txt", c->dir);
  if (ph_path_exists(path))
    fprintf(md, " **Resumed by another build too** (`--accept-build`; "
                "`builds.txt` lists them).");
  fprintf(md, "\n\n");
}

ph_status study_report(const st_cfg *c, const st_sel *sel, const ph_demo *d,
                       double seconds, ph_error *err) {
  char *rb = NULL, *sb = NULL, *mb = NULL;
  size_t rn = 0, sn = 0, mn = 0;
  FILE *runs = open_memstream(&rb, &rn), *study = open_memstream(&sb, &sn),
       *md = open_memstream(&mb, &mn);
  if (!runs || !study || !md) {
    if (runs) fclose(runs);
    if (study) fclose(study);
    if (md) fclose(md);
    free(rb);
    free(sb);
    free(mb);
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  write_csvs(c, sel, runs, study);
  fprintf(md, "# pothole study (profile %s)\n\n", c->profile);
  fprintf(md, "Settings rule (fixed before any result was seen): every "
              "optimiser gets the same learning-rate grid, its default rate × "
              "{");
  for (size_t k = 0; k < c->n_lrs; k++)
    fprintf(md, "%s%g", k ? ", " : "", c->lr_mult[k]);
  fprintf(md,
          "}, each trained once (seed 0) on the train split minus a "
          "validation split of its last examples; the rate with the lowest "
          "final validation loss wins (a diverged run counts as +∞, ties go "
          "to the smaller rate); the winner is re-run on seeds 1..%zu on the "
          "whole train split and evaluated on the test split. All other "
          "settings are each optimiser's defaults.\n\n",
          c->seeds);
  md_build(c, md);
  fprintf(md, "| task | model | data | steps | batch | validation |\n"
              "|---|---|---|---|---|---|\n");
  for (size_t t = 0; t < c->n_tasks; t++) {
    const st_task *k = &c->tasks[t];
    fprintf(md, "| %s | `%s` | `%s`%s | %zu | %zu | %zu |\n", k->name, k->model,
            k->data, k->n_train ? " (first N)" : "", k->steps, k->batch,
            k->val);
  }
  fprintf(md, "\n");
  md_tables(c, sel, md);
  size_t nw = study_curv_count(c);
  if (nw)
    fprintf(md,
            "Curvature over training: `figures/curvature` draws λmax(H) "
            "(curvature.csv's `%s`) of seed 1 for %zu of %zu task × "
            "optimiser pairs.\n\n",
            PH_WATCH_COL_LMAX_H, nw, c->n_tasks * c->n_opts);
  else
    fprintf(md, "Curvature over training: no final run has curvature.csv "
                "(`--watch-every 0`); `figures/curvature` shows the final "
                "λmax per seed instead.\n\n");
  md_commands(c, sel, d, md);
  fprintf(md,
          "Wall time of this invocation: %.0f s (resumed jobs are not "
          "re-timed). Files: `study.csv`, `runs.csv`, `tune.csv`, "
          "`selection.csv`, `figures/`.\n",
          seconds);
  fclose(runs);
  fclose(study);
  fclose(md);
  char p[1200];
  ph_status s;
  snprintf(p, sizeof p, "%s/runs.csv", c->dir);
  s = ph_write_file_atomic(p, rb, rn, err);
  snprintf(p, sizeof p, "%s/study.csv", c->dir);
  if (!s) s = ph_write_file_atomic(p, sb, sn, err);
  snprintf(p, sizeof p, "%s/study.md", c->dir);
  if (!s) s = ph_write_file_atomic(p, mb, mn, err);
  free(rb);
  free(sb);
  free(mb);
  return s;
}
