/* demo_summary.c: collect the demo's results into summary.json / summary.md.
 *
 * Numbers are read back from the files the commands wrote (never recomputed),
 * and printed with %.4g in the Markdown (the JSON keeps them exact). Each
 * table is followed by the command line(s) that produced it. */
#define _GNU_SOURCE
#include "demo_summary.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "core/version.h"

/* --- a growing text buffer for the Markdown ------------------------------ */
typedef struct sbuf {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->s && (size_t)k < room) {
      b->len += (size_t)k;
      return;
    }
    size_t cap = (b->cap + (size_t)k + 1) * 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = cap;
  }
}

/* --- reading results ------------------------------------------------------ */

static const ph_demo_job *find_job(const ph_demo *d, const char *name) {
  for (size_t i = 0; i < d->n_jobs; i++)
    if (strcmp(d->jobs[i].name, name) == 0) return &d->jobs[i];
  return NULL;
}

static void sb_command(sbuf *b, const ph_demo *d, const char *job) {
  const ph_demo_job *j = find_job(d, job);
  if (!j) return;
  char *cmd = ph_demo_command_line(j);
  sb_printf(b, "    %s\n", cmd ? cmd : "?");
  free(cmd);
}

/* A CSV as a Markdown table (numbers to 4 significant digits). */
static int csv_to_md(sbuf *b, const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) {
    sb_printf(b, "_(missing: %s)_\n\n", path);
    return -1;
  }
  char line[4096];
  int row = 0;
  while (fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    sb_printf(b, "|");
    int cols = 0;
    for (char *tok = line, *next; tok; tok = next) {
      next = strchr(tok, ',');
      if (next) *next++ = '\0';
      char *end;
      double v = strtod(tok, &end);
      if (row > 0 && end != tok && *end == '\0')
        sb_printf(b, " %.4g |", v);
      else
        sb_printf(b, " %s |", tok);
      cols++;
    }
    sb_printf(b, "\n");
    if (row == 0) {
      sb_printf(b, "|");
      for (int k = 0; k < cols; k++) sb_printf(b, "---|");
      sb_printf(b, "\n");
    }
    row++;
  }
  fclose(fp);
  sb_printf(b, "\n");
  return 0;
}

/* A CSV as a JSON array of row objects (numbers exact). */
static cJSON *csv_to_json(const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) return cJSON_CreateNull();
  cJSON *rows = cJSON_CreateArray();
  char line[4096], header[4096] = "";
  char *names[64];
  int n_names = 0;
  while (fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    if (!n_names) {
      snprintf(header, sizeof header, "%s", line);
      for (char *tok = header, *next; tok && n_names < 64; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        names[n_names++] = tok;
      }
      continue;
    }
    cJSON *o = cJSON_CreateObject();
    int k = 0;
    for (char *tok = line, *next; tok && k < n_names; tok = next, k++) {
      next = strchr(tok, ',');
      if (next) *next++ = '\0';
      char *end;
      double v = strtod(tok, &end);
      if (end != tok && *end == '\0')
        ph_json_add_number(o, names[k], v);
      else
        cJSON_AddStringToObject(o, names[k], tok);
    }
    cJSON_AddItemToArray(rows, o);
  }
  fclose(fp);
  return rows;
}

/* Look up "a.b.c" in nested objects, or as a flat key "a.b.c". */
static const cJSON *jget(const cJSON *root, const char *path) {
  if (!root) return NULL;
  const cJSON *flat = cJSON_GetObjectItemCaseSensitive(root, path);
  if (flat) return flat;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = root;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
    cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  return cur;
}

static double jnum(const cJSON *root, const char *path) {
  const cJSON *it = jget(root, path);
  if (cJSON_IsNumber(it)) return it->valuedouble;
  if (cJSON_IsArray(it) && cJSON_GetArraySize(it) > 0 &&
      cJSON_IsNumber(cJSON_GetArrayItem(it, 0)))
    return cJSON_GetArrayItem(it, 0)->valuedouble; /* first of a list */
  return NAN;
}

static cJSON *read_json(const char *path) {
  cJSON *r = NULL;
  ph_error err = {0};
  if (ph_json_read_file(path, &r, &err) != PH_OK) return NULL;
  return r;
}

static void sb_num(sbuf *b, double v) {
  if (isnan(v))
    sb_printf(b, " – |");
  else
    sb_printf(b, " %.4g |", v);
}

static const char *const OPTS[] = {"sgd", "sam", "llqr", "llqr-sam"};

/* The toy lab: selectivity, the pothole2d escape table, the amplification
 * sweep and the wide basin (sections 1-3). */
static void summary_lab(sbuf *b, cJSON *res, const ph_demo *d,
                        const char *out) {
  char path[4096];
  /* 1. Selectivity, then the earlier lab landscape. */
  sb_printf(b, "## 1. Selectivity: a pothole and a control feature of the "
               "same curvature\n\n"
               "Along x a pit (pi ~ 247 under the fitted P), along y a "
               "feature of the same local curvature that P has learned "
               "(pi = 1); fixed P. The claim predicts llqr-sam leaves the "
               "pit and keeps y; sam-matched (SAM with LLQR's step along "
               "the pit) cannot tell the two apart. docs/potholes.md has "
               "the verdict.\n\n");
  snprintf(path, sizeof path, "%s/toy/selective/escape.csv", out);
  csv_to_md(b, path);
  cJSON_AddItemToObject(res, "escape_selective", csv_to_json(path));
  sb_printf(b, "Command (eta/eta* = 0.8, rho = pit width):\n\n");
  sb_command(b, d, "toy-selective");
  sb_printf(b, "\nThe regime map over eta/eta* x rho/width (escape rate per "
               "optimiser; the last panel is llqr-sam minus the best "
               "control, dots where the Wilson intervals do not overlap; "
               "the line is LLQR's threshold eta = eta*). Command:\n\n");
  sb_command(b, d, "toy-selective-map");
  sb_printf(b, "\n![regime map](figures/regime.png)\n\n");
  sb_printf(b, "The earlier lab landscape (isotropic P = 5 I: there P only "
               "rescales the step):\n\n");
  snprintf(path, sizeof path, "%s/toy/pothole2d/escape.csv", out);
  csv_to_md(b, path);
  cJSON_AddItemToObject(res, "escape_pothole2d", csv_to_json(path));
  sb_printf(b, "Command:\n\n");
  sb_command(b, d, "toy-pothole2d");
  sb_printf(b, "\n![escape landscape](figures/escape_landscape.png)\n"
               "![escape rates](figures/escape_rates.png)\n\n");

  /* 2. Amplification and basin. */
  sb_printf(b, "## 2. Escape amplification, measured vs first-order "
               "prediction (potholeNd)\n\n");
  snprintf(path, sizeof path, "%s/toy/sweep/amplification.csv", out);
  csv_to_md(b, path);
  cJSON_AddItemToObject(res, "amplification", csv_to_json(path));
  sb_printf(b, "Command:\n\n");
  sb_command(b, d, "toy-sweep");
  sb_printf(b, "\n![amplification](figures/amplification.png)\n\n");
  sb_printf(b, "## 3. Wide-basin stability (no pit: nobody should leave)\n\n");
  snprintf(path, sizeof path, "%s/toy/basin/escape.csv", out);
  csv_to_md(b, path);
  cJSON_AddItemToObject(res, "basin", csv_to_json(path));
  sb_printf(b, "Command:\n\n");
  sb_command(b, d, "toy-basin");
  sb_printf(b, "\n");
}

/* Section 4: the four training runs. */
static void summary_training(sbuf *b, cJSON *res, const ph_demo *d,
                             const char *out) {
  char path[4096];
  /* 4. Training. */
  sb_printf(
      b,
      "## 4. Training mlp:64-64:tanh on digits\n\n"
      "| optimiser | train loss | train acc | test loss | test acc | wall s |\n"
      "|---|---|---|---|---|---|\n");
  cJSON *tr = cJSON_AddObjectToObject(res, "training");
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/train/%s/run.json", out, OPTS[i]);
    cJSON *r = read_json(path);
    sb_printf(b, "| %s |", OPTS[i]);
    sb_num(b, jnum(r, "final.train_loss"));
    sb_num(b, jnum(r, "final.train_acc"));
    sb_num(b, jnum(r, "final.test_loss"));
    sb_num(b, jnum(r, "final.test_acc"));
    sb_num(b, jnum(r, "wall_time"));
    sb_printf(b, "\n");
    if (r) cJSON_AddItemToObject(tr, OPTS[i], r);
  }
  sb_printf(b, "\nCommands:\n\n");
  for (int i = 0; i < 4; i++) {
    char name[64];
    snprintf(name, sizeof name, "train-%s", OPTS[i]);
    sb_command(b, d, name);
  }
  sb_printf(b, "\n![training curves](figures/training_curves.png)\n\n");
}

/* Section 5: spectra local and preconditioned, and sharpness. */
static void summary_curvature(sbuf *b, cJSON *res, const ph_demo *d,
                              const char *out) {
  char path[4096];
  /* 5. Spectra and sharpness. */
  sb_printf(b, "## 5. Curvature: local vs averaged geometry (llqr-sam's "
               "preconditioner P)\n\n"
               "| model | λmax(H) | λmin(H) | tr(H) | λmax(P½HP½) | SAM "
               "sharpness (ball) | SAM sharpness (ellipsoid) | top π |\n"
               "|---|---|---|---|---|---|---|---|\n");
  cJSON *sp = cJSON_AddObjectToObject(res, "curvature");
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/spectra/%s/local/spectrum.json", out,
             OPTS[i]);
    cJSON *loc = read_json(path);
    snprintf(path, sizeof path, "%s/spectra/%s/precond/spectrum.json", out,
             OPTS[i]);
    cJSON *pre = read_json(path);
    snprintf(path, sizeof path, "%s/sharpness/%s/sharpness.json", out, OPTS[i]);
    cJSON *sh = read_json(path);
    double lmin = NAN;
    const cJSON *ev = jget(loc, "eigenvalues");
    if (cJSON_IsArray(ev) && cJSON_GetArraySize(ev) > 0) {
      const cJSON *last = cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1);
      if (cJSON_IsNumber(last)) lmin = last->valuedouble;
    }
    double top_pi = NAN;
    const cJSON *dirs = jget(sh, "directions");
    if (cJSON_IsArray(dirs) && cJSON_GetArraySize(dirs) > 0)
      top_pi = jnum(cJSON_GetArrayItem(dirs, 0), "pi");
    sb_printf(b, "| %s |", OPTS[i]);
    sb_num(b, jnum(loc, "eigenvalues"));
    sb_num(b, lmin);
    sb_num(b, jnum(loc, "trace.mean"));
    sb_num(b, jnum(pre, "eigenvalues"));
    sb_num(b, jnum(sh, "sam_sharpness.euclidean"));
    sb_num(b, jnum(sh, "sam_sharpness.ellipsoid"));
    sb_num(b, top_pi);
    sb_printf(b, "\n");
    cJSON *m = cJSON_AddObjectToObject(sp, OPTS[i]);
    if (loc) cJSON_AddItemToObject(m, "local", loc);
    if (pre) cJSON_AddItemToObject(m, "precond", pre);
    if (sh) cJSON_AddItemToObject(m, "sharpness", sh);
  }
  sb_printf(b, "\nCommands (shown for llqr-sam; the others differ only in the "
               "checkpoint):\n\n");
  sb_command(b, d, "spectrum-llqr-sam");
  sb_command(b, d, "spectrum-precond-llqr-sam");
  sb_command(b, d, "sharpness-llqr-sam");
  sb_printf(b, "\n![spectra](figures/spectrum_llqr-sam.png)\n\n");
}

/* Section 6: the slices. */
static void summary_slices(sbuf *b, cJSON *res, const ph_demo *d,
                           const char *out) {
  /* 6. Slices. */
  sb_printf(b,
            "## 6. Landscape slices in the PCA plane of each trajectory\n\n");
  for (int i = 0; i < 4; i++)
    sb_printf(b, "![%s](figures/slice_%s.png)\n", OPTS[i], OPTS[i]);
  sb_printf(b, "\nCommand (llqr-sam):\n\n");
  sb_command(b, d, "slice-llqr-sam");
}

/* Every command with its wall time. */
static void summary_commands(sbuf *b, cJSON *res, const ph_demo *d,
                             const char *out) {
  sb_printf(b, "\n## All commands\n\n");
  for (size_t i = 0; i < d->n_jobs; i++) {
    char *cmd = ph_demo_command_line(&d->jobs[i]);
    sb_printf(b, "- `%s`%s (%.1f s)\n", cmd ? cmd : "?",
              d->jobs[i].skipped ? " (resumed: output existed)" : "",
              d->jobs[i].took_s);
    free(cmd);
  }
}

ph_status ph_demo_summary_write(const ph_demo *d, const char *profile,
                                double seconds, ph_error *err) {
  const char *out = d->out_dir;
  char path[4096];
  cJSON *root = cJSON_CreateObject();
  ph_json_add_stamp(root);
  cJSON_AddStringToObject(root, "profile", profile);
  ph_json_add_number(root, "seconds", seconds);
  cJSON *jobs = cJSON_AddArrayToObject(root, "commands");
  for (size_t i = 0; i < d->n_jobs; i++) {
    const ph_demo_job *j = &d->jobs[i];
    cJSON *o = cJSON_CreateObject();
    char *cmd = ph_demo_command_line(j);
    cJSON_AddStringToObject(o, "name", j->name);
    cJSON_AddStringToObject(o, "stage", j->stage);
    cJSON_AddStringToObject(o, "command", cmd ? cmd : "");
    if (j->output) cJSON_AddStringToObject(o, "output", j->output);
    ph_json_add_number(o, "seconds", j->took_s);
    cJSON_AddBoolToObject(o, "resumed", j->skipped);
    cJSON_AddBoolToObject(o, "failed", j->failed);
    free(cmd);
    cJSON_AddItemToArray(jobs, o);
  }
  cJSON *res = cJSON_AddObjectToObject(root, "results");

  sbuf b = {0};
  sb_printf(&b, "# pothole demo (%s profile)\n\n", profile);
  sb_printf(&b,
            "pothole %s, %.0f s of wall time on this machine. Every table is "
            "read back from the files the commands below it wrote; run any "
            "command again to reproduce its numbers. Figures are in "
            "`figures/`.\n\n",
            PH_VERSION, seconds);

  summary_lab(&b, res, d, out);
  summary_training(&b, res, d, out);
  summary_curvature(&b, res, d, out);
  summary_slices(&b, res, d, out);
  summary_commands(&b, res, d, out);

  ph_status s = PH_OK;
  if (b.oom) s = ph_error_set(err, PH_ERR_NOMEM, "summary: out of memory");
  if (s == PH_OK) {
    snprintf(path, sizeof path, "%s/summary.json", out);
    s = ph_json_write_file(path, root, err);
  }
  if (s == PH_OK) {
    snprintf(path, sizeof path, "%s/summary.md", out);
    s = ph_write_file_atomic(path, b.s, b.len, err);
  }
  free(b.s);
  cJSON_Delete(root);
  return s;
}
