/* cmd_toy.c: `pothole toy` -- escape experiments on toy landscapes, regime
 * maps and the amplification sweep. Thin: the option table, validation,
 * then ph_escape_run / ph_map_run / ph_amp_sweep (src/potholes/escape*.c).
 * docs/potholes.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/csv.h"
#include "core/dist.h"
#include "core/json.h"
#include "core/progress.h"
#include "potholes/escape.h"
#include "potholes/toys.h"

#define CMD "toy"

static const char *const pfroms[] = {"burnin", "fit", "identity", NULL};
static const char *const metrics[] = {"gn", "newton", NULL};
static const char *const firsts[] = {"start", "k", NULL};
static const char *const sweeps[] = {"none", "depth", "width", "like", NULL};

static int run_sweep(ph_escape_config *cfg, const ph_toy_spec *spec,
                     const char *sweep, const ph_cli_list *vals,
                     int sweep_escape, const char *out);

/* --sweep like: DIR/amplification_like.csv (one row per point) and the
 * median and quartiles of the measured factor per band of the prediction. */
static int run_like(ph_escape_config *cfg, const ph_cli_list *vals,
                    const char *out) {
  ph_error err = {0};
  double rhos[PH_CLI_LIST_MAX] = {0.005, 0.01, 0.02};
  size_t nr = 3;
  if (vals) {
    memcpy(rhos, vals->v, vals->n * sizeof(double));
    nr = vals->n;
  }
  ph_amp_point *p = NULL;
  size_t np = 0;
  ph_status st = ph_amp_like(cfg, rhos, nr, &p, &np, &err);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  char *csv = NULL;
  if ((st = ph_mkdir_p(out, &err)) == PH_OK &&
      !(csv = ph_path_join(out, "amplification_like.csv", &err)))
    st = PH_ERR_NOMEM;
  ph_csv c;
  if (st == PH_OK)
    st = ph_csv_open(&c, csv,
                     "rho,t,pi,measured_llqr_sam_over_llqr,predicted_llqr_sam,"
                     "measured_sam_over_gd,predicted_sam",
                     &err);
  if (st == PH_OK) {
    for (size_t i = 0; i < np; i++) {
      ph_csv_num(&c, p[i].rho);
      ph_csv_num(&c, p[i].t);
      ph_csv_num(&c, p[i].pi);
      ph_csv_num(&c, p[i].measured);
      ph_csv_num(&c, p[i].predicted);
      ph_csv_num(&c, p[i].sam_measured);
      ph_csv_num(&c, p[i].sam_predicted);
      ph_csv_end_row(&c);
    }
    st = ph_csv_commit(&c, &err);
  }
  free(csv);
  if (st == PH_OK) {
    for (int sam = 0; sam < 2; sam++) {
      ph_amp_band b[PH_AMP_BANDS];
      ph_amp_like_bands(p, np, sam, b);
      printf("%s: measured vs first order %s (median [IQR] per band)\n",
             sam ? "SAM / GD" : "LLQR+SAM / LLQR",
             sam ? "1 + rho lambda/|g|" : "1 + rho pi/|Pg|");
      printf("%-12s %6s %10s %10s %23s\n", "predicted", "points", "pred med",
             "measured", "IQR");
      for (int k = 0; k < PH_AMP_BANDS; k++)
        printf("[%4.1f, %4.1f) %6zu %10.4g %10.4g [%10.4g, %10.4g]\n", b[k].lo,
               b[k].hi, b[k].n, b[k].pred_median, b[k].median, b[k].q1,
               b[k].q3);
    }
  }
  free(p);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  return 0;
}

static void print_result(const ph_escape_config *cfg,
                         const ph_escape_result *res, const char *out) {
  printf("# pit direction: p_v %.4g, lambda_v %.4g, pi_v %.4g; LLQR "
         "threshold eta* %.4g (eta/eta* %.3g)\n",
         res->pit_dir_p, res->pit_lambda, res->pit_pi, res->lr_threshold,
         cfg->lr / res->lr_threshold);
  printf("%-16s %9s %6s %23s %8s %8s %8s %8s\n", "optimiser", "lr", "rho",
         "escaped [wilson95]", "trapped", "orbiting", "diverged", "median");
  for (size_t k = 0; k < res->n_rows; k++) {
    const ph_escape_row *r = &res->rows[k];
    printf("%-16s %9.4g %6.3g %7.3f [%6.3f, %6.3f] %8zu %8zu %8zu %8.0f\n",
           r->opt, r->lr, r->rho, r->rate[PH_OUT_ESCAPED],
           r->lo[PH_OUT_ESCAPED], r->hi[PH_OUT_ESCAPED],
           r->count[PH_OUT_TRAPPED], r->count[PH_OUT_ORBITING],
           r->count[PH_OUT_DIVERGED], r->median_escape_step);
  }
  printf("# %zu optimisers x %zu runs x %zu steps in %.3f s; results in %s\n",
         res->n_rows, cfg->seeds, cfg->steps, res->seconds, out);
}

/* Everything the command line sets; parsed by toy_parse, checked by
 * toy_check, then run by one of the four modes below. */
typedef struct {
  ph_escape_config cfg;
  const char *landscape, *out, *start, *opt_list, *map;
  int pfrom, metric, first, sweep, sweep_escape, resume, xlog, ylog;
  ph_cli_list values;
  ph_cli_range xr, yr;
  ph_cli_grid grid;
  int x_seen, y_seen, grid_seen, values_seen;
  size_t threads, stop_after;
} toy_args;

/* The option table; returns -1 to go on, else the exit code. */
static int toy_parse(toy_args *a, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cfg = ph_escape_config_default();
  a->landscape = a->cfg.landscape;
  a->pfrom = (int)a->cfg.pfrom, a->metric = (int)a->cfg.metric;
  a->first = (int)a->cfg.refresh_first;
  a->grid = (ph_cli_grid){10, 10};
  const ph_opt opts[] = {
      {"landscape", "SPEC", PH_OPT_STRING, &a->landscape,
       .help = "toy landscape, e.g. pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5\n"
               "(the selectivity landscape: a pit along x and a control\n"
               "feature along y with the same local curvature)"},
      {"opt", "LIST", PH_OPT_STRING, &a->opt_list,
       .help = "optimisers: src/optim names and the controls sam-matched,\n"
               "llqr-sam-euclid, llqr-sam-ponly (default sgd,sam,llqr,"
               "llqr-sam)",
       .flags = PH_OPT_NO_DEFAULT},
      {"seeds", "S", PH_OPT_SIZE, &a->cfg.seeds, .lo = 1, .hi = 1e6,
       .help = "runs per optimiser (and per map cell)"},
      {"steps", "T", PH_OPT_SIZE, &a->cfg.steps, .lo = 1, .hi = 1e8,
       .help = "steps per run"},
      PH_OPT_SEED(&a->cfg.seed),
      {"start", "WHERE", PH_OPT_STRING, &a->start,
       .help = "pit | basin | random | X1,X2,... (default pit)",
       .flags = PH_OPT_NO_DEFAULT},
      {"jitter", "SIGMA", PH_OPT_DOUBLE, &a->cfg.jitter, .lo = 0, .hi = 1e6,
       .help = "start jitter N(0, SIGMA^2 I) (default pit width/4, 0.1\n"
               "without a pit)",
       .flags = PH_OPT_NO_DEFAULT},
      {"box", "B", PH_OPT_DOUBLE, &a->cfg.random_box, .lo = 1e-300, .hi = 1e6,
       .help = "--start random: uniform in [-B, B]^n"},
      {"lr", "LR", PH_OPT_DOUBLE, &a->cfg.lr, .lo = 1e-300, .hi = 1e6,
       .help = "learning rate η (sam-matched runs at η·p_v)"},
      {"rho", "R", PH_OPT_DOUBLE, &a->cfg.rho, .lo = 0, .hi = 1e6,
       .help = "perturbation radius of every SAM-type optimiser"},
      {"momentum", "M", PH_OPT_DOUBLE, &a->cfg.momentum, .lo = 0,
       .hi = 0.999999, .help = "heavy-ball momentum"},
      {"batch", "B", PH_OPT_SIZE, &a->cfg.batch, .lo = 1, .hi = 1e6,
       .help = "minibatch size when the landscape has noise="},
      {"precond-from", "HOW", PH_OPT_CHOICE, &a->pfrom, .choices = pfroms,
       .help = "how the LLQR preconditioner P is obtained"},
      {"burnin", "N", PH_OPT_SIZE, &a->cfg.burnin, .lo = 0, .hi = 1e8,
       .help = "burn-in steps in the wide basin"},
      {"metric", "M", PH_OPT_CHOICE, &a->metric, .choices = metrics,
       .help = "LLQR metric (toys: gn = |H|, newton = H)"},
      {"curvature-floor", "C", PH_OPT_DOUBLE, &a->cfg.curvature_floor, .lo = 0,
       .hi = 1e12, .help = "adds C·κ_g to the LLQR metric"},
      {"damping", "L", PH_OPT_DOUBLE, &a->cfg.damping, .lo = 0, .hi = 1e12,
       .help = "λ added to the LLQR metric"},
      {"ema", "B", PH_OPT_DOUBLE, &a->cfg.ema_beta, .lo = 0, .hi = 0.999999999,
       .help = "EMA factor β of P, in [0, 1)"},
      {"refresh", "K", PH_OPT_SIZE, &a->cfg.refresh_every, .lo = 0, .hi = 1e8,
       .help = "refresh P every K steps during a run; 0 = never (fixed P)"},
      {"refresh-first", "W", PH_OPT_CHOICE, &a->first, .choices = firsts,
       .help = "first refresh before step 1 (start) or after K steps (k)"},
      {"inner-steps", "N", PH_OPT_SIZE, &a->cfg.inner_steps, .lo = 0,
       .hi = 100000, .help = "LLQR inner loop steps"},
      {"inner-lr", "LR", PH_OPT_DOUBLE, &a->cfg.inner_lr, .lo = 0, .hi = 1e6,
       .help = "LLQR inner learning rate"},
      {"refresh-batch", "B", PH_OPT_SIZE, &a->cfg.refresh_batch, .lo = 1,
       .hi = 1e6, .help = "refresh batch size (its own random stream)"},
      {"escape-k", "K", PH_OPT_DOUBLE, &a->cfg.escape_k, .lo = 1e-9, .hi = 1e6,
       .help = "trapped: within K pit widths of the pit at the end"},
      {"basin-frac", "F", PH_OPT_DOUBLE, &a->cfg.basin_frac, .lo = 1e-6,
       .hi = 0.999999,
       .help = "escaped: within F·|pit − basin| of the basin minimum"},
      {"traj", "N", PH_OPT_SIZE, &a->cfg.n_traj, .lo = 0, .hi = 1000,
       .help = "runs whose trajectory and P(t) are saved"},
      {"map", "A1,A2", PH_OPT_STRING, &a->map,
       .help = "regime map over two of eta, eta_rel, rho, rho_rel, depth,\n"
               "pi, beta, K (eta_rel = η/η*, rho_rel = ρ/width); writes\n"
               "DIR/map.csv and DIR/map.json",
       .flags = PH_OPT_NO_DEFAULT},
      {"x", "LO:HI", PH_OPT_RANGE, &a->xr,
       .help = "range of the first map axis", .flags = PH_OPT_NO_DEFAULT,
       .seen = &a->x_seen},
      {"y", "LO:HI", PH_OPT_RANGE, &a->yr,
       .help = "range of the second map axis", .flags = PH_OPT_NO_DEFAULT,
       .seen = &a->y_seen},
      {"grid", "NXxNY", PH_OPT_GRID, &a->grid,
       .help = "map cells (at most 4096)", .seen = &a->grid_seen},
      {"xlog", NULL, PH_OPT_FLAG, &a->xlog, .help = "log-spaced first axis"},
      {"ylog", NULL, PH_OPT_FLAG, &a->ylog, .help = "log-spaced second axis"},
      {"resume", NULL, PH_OPT_FLAG, &a->resume,
       .help = "continue a killed map from DIR/map.journal"},
      {"stop-after", "N", PH_OPT_SIZE, &a->stop_after, .lo = 1, .hi = 1e9,
       .help = "stop a map after N new cells (tests)", .flags = PH_OPT_HIDDEN},
      {"sweep", "P", PH_OPT_CHOICE, &a->sweep, .choices = sweeps,
       .help = "amplification sweep over depth or width (potholeNd), or\n"
               "like: step with perturbation over step without, along the\n"
               "pit direction, against first order (any toy with a pit;\n"
               "--values are the radii, default 0.005,0.01,0.02)"},
      {"values", "V1,V2,...", PH_OPT_LIST, &a->values, .lo = 1e-12, .hi = 1e6,
       .help = "sweep values (default depth 0.25,0.5,1,2,4; width\n"
               "0.05,0.1,0.2,0.4)",
       .flags = PH_OPT_NO_DEFAULT, .seen = &a->values_seen},
      {"sweep-escape", NULL, PH_OPT_FLAG, &a->sweep_escape,
       .help = "also measure sam and llqr-sam escape rates per value"},
      PH_OPT_THREADS(&a->threads),
      PH_OPT_OUT_DIR(&a->out),
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "[--landscape SPEC] [--opt LIST] [--map A1,A2 --x LO:HI --y LO:HI]\n"
      "                   [options] --out DIR",
      "Escape experiments: each optimiser (all through src/optim; fixed P =\n"
      "refresh 0 with P set from outside) runs T steps from S starts in the\n"
      "pit. A run ESCAPED when it reaches the basin (within --basin-frac of\n"
      "the pit-basin distance from the basin minimum), is TRAPPED when it\n"
      "ends within --escape-k pit widths of the pit, DIVERGED when it blows\n"
      "up, and ORBITING otherwise. Writes DIR/escape.csv (every outcome with\n"
      "Wilson 95% intervals), DIR/runs.csv (per run: outcome, step, P over\n"
      "the run), DIR/trajectories/ and DIR/precond/<opt>.npy [run, step,\n"
      "dim] and DIR/toy.json. With --map: DIR/map.csv (resumable with\n"
      "--resume); with --sweep: DIR/amplification.csv.",
      opts,
      0,
      0};
  return ph_cli_parse(&spec, argc, argv, NULL, NULL);
}

/* --start: pit | basin | random | X1,X2,... */
static int toy_parse_start(toy_args *a, const ph_toy_spec *tspec) {
  ph_escape_config *cfg = &a->cfg;
  if (strcmp(a->start, "pit") == 0) {
    cfg->start = PH_START_PIT;
  } else if (strcmp(a->start, "basin") == 0) {
    cfg->start = PH_START_BASIN;
  } else if (strcmp(a->start, "random") == 0) {
    cfg->start = PH_START_RANDOM;
  } else {
    size_t k = 0;
    int rc;
    if (tspec->n > 64)
      return ph_cli_usage(CMD, "--start X1,X2,...: at most 64 coordinates");
    if ((rc = ph_cli_doubles(CMD, "--start", a->start, cfg->point, 64, &k)))
      return rc;
    if (k != tspec->n)
      return ph_cli_usage(CMD, "--start needs %zu coordinates for %s, got %zu",
                          tspec->n, ph_toy_kind_name(tspec->kind), k);
    cfg->start = PH_START_POINT;
  }
  return -1;
}

/* Validates everything before any output; -1 to go on, else the exit code. */
static int toy_check(toy_args *a, ph_toy_spec *tspec) {
  ph_escape_config *cfg = &a->cfg;
  ph_error err = {0};
  int rc;
  if (strlen(a->landscape) >= sizeof cfg->landscape)
    return ph_cli_usage(CMD, "--landscape is too long");
  if (a->landscape != cfg->landscape)
    snprintf(cfg->landscape, sizeof cfg->landscape, "%s", a->landscape);
  cfg->pfrom = (ph_precond_from)a->pfrom;
  cfg->metric = (ph_metric)a->metric;
  cfg->refresh_first = (ph_refresh_first)a->first;
  cfg->threads = ph_cli_threads(a->threads);
  if (ph_toy_spec_parse(cfg->landscape, tspec, &err) != PH_OK)
    return ph_cli_usage(CMD, "--landscape: %s", err.msg);
  if (a->opt_list && ph_escape_parse_opts(cfg, a->opt_list, &err) != PH_OK)
    return ph_cli_usage(CMD, "--opt: %s", err.msg);
  if (a->start && (rc = toy_parse_start(a, tspec)) >= 0) return rc;
  if (ph_escape_config_validate(cfg, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);
  if (a->sweep && a->map)
    return ph_cli_usage(CMD, "--sweep and --map exclude each other");
  if (!a->sweep && (a->values_seen || a->sweep_escape))
    return ph_cli_usage(CMD, "--values and --sweep-escape need --sweep");
  if (!a->map && (a->x_seen || a->y_seen || a->grid_seen || a->resume ||
                  a->xlog || a->ylog))
    return ph_cli_usage(CMD, "--x, --y, --grid, --xlog, --ylog and --resume "
                             "need --map");
  if (!a->map && ph_dist_size() > 1)
    return ph_cli_usage(CMD,
                        "only --map runs as several processes (%d here); "
                        "start the others without mpirun",
                        ph_dist_size());
  return -1;
}

/* --map: the regime map, resumable from DIR/map.journal. */
static int toy_run_map(toy_args *a) {
  ph_escape_config *cfg = &a->cfg;
  ph_error err = {0};
  ph_map_spec ms;
  memset(&ms, 0, sizeof ms);
  if (ph_map_parse_axes(&ms, a->map, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);
  if (!a->x_seen || !a->y_seen)
    return ph_cli_usage(CMD, "--map needs --x LO:HI and --y LO:HI");
  ms.lo[0] = a->xr.lo, ms.hi[0] = a->xr.hi;
  ms.lo[1] = a->yr.lo, ms.hi[1] = a->yr.hi;
  ms.nx = a->grid.nx, ms.ny = a->grid.ny;
  ms.logscale[0] = a->xlog, ms.logscale[1] = a->ylog;
  if (ph_map_validate(cfg, &ms, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);
  /* a cell's configuration must be valid everywhere on the grid */
  for (size_t q = 0; q < ms.nx * ms.ny; q += ms.nx * ms.ny - 1) {
    ph_escape_config cc;
    if (ph_map_cell_config(cfg, &ms, q, &cc, &err) != PH_OK)
      return ph_cli_usage(CMD, "map cell %zu: %s", q, err.msg);
    if (ms.nx * ms.ny == 1) break;
  }
  int complete;
  size_t ran;
  double t0 = ph_now();
  ph_status st = ph_map_run(cfg, &ms, a->out, a->resume, a->stop_after,
                            &complete, &ran, &err);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  if (!complete) {
    printf("# stopped after %zu new cells; continue with --resume\n", ran);
    return 0;
  }
  printf("# map %s x %s, %zux%zu cells (%zu run now) x %zu optimisers x "
         "%zu runs x %zu steps in %.2f s on %zu threads; %s/map.csv\n",
         ph_map_axis_names[ms.ax[0]], ph_map_axis_names[ms.ax[1]], ms.nx, ms.ny,
         ran, cfg->n_opt, cfg->seeds, cfg->steps, ph_now() - t0, cfg->threads,
         a->out);
  return 0;
}

/* The escape table: every optimiser from S starts in the pit. */
static int toy_run_escape(const ph_escape_config *cfg, const char *out) {
  ph_error err = {0};
  ph_escape_result res;
  ph_status st = ph_escape_run(cfg, &res, &err);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  st = ph_escape_write(cfg, &res, NULL, out, &err);
  if (st != PH_OK) {
    ph_escape_result_free(&res);
    return ph_cli_fail(CMD, st, &err);
  }
  print_result(cfg, &res, out);
  ph_escape_result_free(&res);
  return 0;
}

int ph_cmd_toy(int argc, char **argv) {
  toy_args a;
  ph_toy_spec tspec;
  int rc = toy_parse(&a, argc, argv);
  if (rc >= 0) return rc;
  if ((rc = toy_check(&a, &tspec)) >= 0) return rc;
  const ph_cli_list *values = a.values_seen ? &a.values : NULL;
  if (a.sweep && !strcmp(sweeps[a.sweep], "like"))
    return run_like(&a.cfg, values, a.out);
  if (a.sweep)
    return run_sweep(&a.cfg, &tspec, sweeps[a.sweep], values, a.sweep_escape,
                     a.out);
  if (a.map) return toy_run_map(&a);
  return toy_run_escape(&a.cfg, a.out);
}

static int run_sweep(ph_escape_config *cfg, const ph_toy_spec *spec,
                     const char *sweep, const ph_cli_list *vals,
                     int sweep_escape, const char *out) {
  ph_error err = {0};
  if (spec->kind != PH_TOY_POTHOLEND)
    return ph_cli_usage(CMD, "--sweep needs a potholeNd landscape");
  double values[PH_ESCAPE_MAX_SWEEP];
  size_t n_values = 0;
  if (vals) {
    if (vals->n > PH_ESCAPE_MAX_SWEEP)
      return ph_cli_usage(CMD, "--values: at most %d values",
                          PH_ESCAPE_MAX_SWEEP);
    memcpy(values, vals->v, vals->n * sizeof(double));
    n_values = vals->n;
  } else if (strcmp(sweep, "depth") == 0) {
    const double d[5] = {0.25, 0.5, 1, 2, 4};
    memcpy(values, d, sizeof d);
    n_values = 5;
  } else {
    const double w[4] = {0.05, 0.1, 0.2, 0.4};
    memcpy(values, w, sizeof w);
    n_values = 4;
  }
  ph_amp_row rows[PH_ESCAPE_MAX_SWEEP];
  ph_status st =
      ph_amp_sweep(cfg, sweep, values, n_values, rows, sweep_escape, &err);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  char *csv = NULL, *js = NULL;
  cJSON *root = NULL;
  st = ph_mkdir_p(out, &err);
  if (st == PH_OK) {
    csv = ph_path_join(out, "amplification.csv", &err);
    js = ph_path_join(out, "toy.json", &err);
    if (!csv || !js) st = PH_ERR_NOMEM;
  }
  if (st == PH_OK) st = ph_amp_write(csv, sweep, rows, n_values, &err);
  if (st == PH_OK) {
    root = cJSON_CreateObject();
    cJSON *cj = cJSON_AddObjectToObject(root, "config");
    char canon[PH_TOY_SPEC_MAX];
    ph_toy_spec_format(spec, canon, sizeof canon);
    cJSON_AddStringToObject(cj, "landscape", canon);
    cJSON_AddStringToObject(cj, "sweep", sweep);
    cJSON_AddItemToObject(cj, "values", ph_json_array(values, n_values));
    ph_json_add_number(cj, "points", (double)cfg->seeds);
    ph_json_add_number(cj, "seed", (double)cfg->seed);
    ph_json_add_number(cj, "jitter", cfg->jitter);
    ph_json_add_number(cj, "rho", cfg->rho);
    cJSON_AddStringToObject(cj, "precond_from", pfroms[cfg->pfrom]);
    cJSON_AddStringToObject(
        cj, "measured",
        "A(v) = s_llqr_sam(v)/s_sam(v), s = v.(update with perturbation - "
        "update without)/|update with|, v the top generalised eigenvector of "
        "H v = mu P^-1 v at theta = pit + N(0, jitter^2 I); mean and 95% "
        "normal interval over the points");
    cJSON_AddStringToObject(cj, "predicted",
                            "first order p_v |g| / |P g| (algorithms.md 5)");
    cJSON *arr = cJSON_AddArrayToObject(root, "sweep");
    for (size_t i = 0; i < n_values; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToArray(arr, o);
      ph_json_add_number(o, sweep, rows[i].value);
      ph_json_add_number(o, "pi", rows[i].pi);
      ph_json_add_number(o, "predicted", rows[i].predicted);
      ph_json_add_number(o, "measured", rows[i].measured);
      ph_json_add_number(o, "ci_lo", rows[i].ci_lo);
      ph_json_add_number(o, "ci_hi", rows[i].ci_hi);
      ph_json_add_number(o, "predicted_squared", rows[i].predicted_sq);
      ph_json_add_number(o, "drift_ratio", rows[i].drift_ratio);
      ph_json_add_number(o, "escape_sam", rows[i].escape_sam);
      ph_json_add_number(o, "escape_llqr_sam", rows[i].escape_llqr_sam);
    }
    ph_json_add_stamp(root);
    st = ph_json_write_file(js, root, &err);
    if (st != PH_OK) remove(csv);
  }
  cJSON_Delete(root);
  if (st == PH_OK) {
    printf("%-8s %10s %10s %10s %23s %10s\n", sweep, "pi", "predicted",
           "measured", "95% interval", "drift");
    for (size_t i = 0; i < n_values; i++)
      printf("%-8.4g %10.4g %10.4g %10.4g [%10.4g, %10.4g] %10.4g\n",
             rows[i].value, rows[i].pi, rows[i].predicted, rows[i].measured,
             rows[i].ci_lo, rows[i].ci_hi, rows[i].drift_ratio);
  }
  free(csv);
  free(js);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  return 0;
}
