/* cmd_demo.c: `pothole demo` -- the whole study on embedded defaults.
 *
 * The demo is a script of ordinary pothole commands (tools/demo_runner.c runs
 * them as child processes): the potholes lab on pothole2d, the amplification
 * sweep on potholeNd and the wide-basin check; mlp:64-64:tanh trained on
 * digits with sgd, sam, llqr and llqr-sam (and the default CNN on a
 * Fashion-MNIST subset when that package is installed); spectra, local and
 * preconditioned; pothole sharpness; 2-D slices with the PCA trajectory; and
 * every figure. DIR/summary.json and DIR/summary.md collect every number with
 * the command that produced it. A killed demo resumes: jobs whose outputs
 * exist are not run again, and a killed training job continues from its
 * last checkpoint (train --resume).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/error.h"
#include "core/progress.h"
#include "demo_runner.h"
#include "demo_summary.h"

#define CMD "demo"

typedef enum { PROFILE_QUICK, PROFILE_DEFAULT, PROFILE_FULL } profile;

static const char *const OPTIMISERS[] = {"sgd", "sam", "llqr", "llqr-sam"};
#define N_OPT 4

/* Everything a profile changes, in one place. */
typedef struct demo_sizes {
  const char *name;
  int toy_seeds, toy_steps;
  int sweep_seeds, sweep_steps, sweep_points;
  int train_steps, batch;
  int eval_n; /* examples for spectra, sharpness and slices */
  int k;      /* top eigenvalues */
  int probes, slq_steps;
  const char *grid; /* network slices */
  const char *toy_grid;
  int cnn; /* train the CNN on Fashion-MNIST if installed */
  int cnn_steps, cnn_train_n;
  const char *map_grid; /* the selectivity map */
  int map_seeds;
} demo_sizes;

static const demo_sizes SIZES[] = {
    [PROFILE_QUICK] = {"quick", 40, 400, 10, 300, 4, 200, 64, 256, 3, 3, 30,
                       "15x15", "81x81", 0, 0, 0, "4x4", 10},
    [PROFILE_DEFAULT] = {"default", 200, 2000, 40, 1000, 6, 1500, 64, 1024, 5,
                         8, 60, "31x31", "121x121", 1, 600, 5000, "8x8", 40},
    [PROFILE_FULL] = {"full", 500, 5000, 100, 3000, 8, 6000, 128, 1797, 10, 20,
                      100, "51x51", "201x201", 1, 3000, 20000, "12x12", 100},
};

static int have_fashion_mnist(void) {
  return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                R_OK) == 0;
}

/* Shorthand: a path under the output directory. */
#define P(...) ph_demo_str(d, __VA_ARGS__)

/* Every command of the demo runs with this seed. */
static const char DEMO_SEED[] = "1";

/* Decimal text of an int; NUM(k, v) uses slot k of the caller's num[8][32]. */
#define NUM(k, v) (snprintf(num[k], sizeof num[k], "%d", (v)), num[k])

/* The potholes lab: toy escape tables, the selectivity map, the
 * amplification sweep and the wide-basin check (sections 1 and 2). */
static void demo_add_lab(ph_demo *d, const demo_sizes *z, profile prof,
                         const char *out) {
  char num[8][32];
  /* 1. The potholes lab on pothole2d (the lab's landscape: a wide, flat
   *    basin with a narrow pit at (2.5, 0)). Two runs: the two-timescale
   *    limit, where P is the slow EMA fitted to the wide basin and held fixed
   *    (builtin backend), and the live optimisers, which keep refreshing P
   *    inside the pit every K steps (optim backend). */
  const char *lab = "pothole2d:a=0.2,b=0.2,cx=2.5";
  ph_demo_add(d, "potholes lab: escape from a pit", "toy-pothole2d",
              P("%s/toy/pothole2d/escape.csv", out),
              prof == PROFILE_QUICK ? 2 : 5, "toy", "--landscape", lab, "--opt",
              "sgd,sam,llqr,llqr-sam", "--seeds", NUM(0, z->toy_seeds),
              "--steps", NUM(1, z->toy_steps), "--start", "pit",
              "--precond-from", "fit", "--refresh", "0", "--seed", DEMO_SEED,
              "--out", P("%s/toy/pothole2d", out), NULL);
  /*    The selectivity experiment (docs/potholes.md §4.2, §5): a pothole
   *    along x and a control feature along y of the same local curvature
   *    that P has learned; four optimisers and three controls at the
   *    rule's cell (eta/eta* = 0.8, rho = pit width), then the regime map
   *    over eta/eta* x rho/width. */
  const char *sel = "pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5";
  const char *all7 =
      "sgd,sam,llqr,llqr-sam,sam-matched,llqr-sam-euclid,llqr-sam-ponly";
  ph_demo_add(d, "potholes lab: selectivity", "toy-selective",
              P("%s/toy/selective/escape.csv", out),
              prof == PROFILE_QUICK ? 2 : 5, "toy", "--landscape", sel, "--opt",
              all7, "--seeds", NUM(0, z->toy_seeds), "--steps",
              NUM(1, z->toy_steps), "--lr", "0.00647", "--rho", "0.1", "--seed",
              DEMO_SEED, "--out", P("%s/toy/selective", out), NULL);
  ph_demo_add(d, "potholes lab: selectivity", "toy-selective-map",
              P("%s/toy/selective-map/map.csv", out),
              prof == PROFILE_QUICK ? 5 : 60, "toy", "--landscape", sel,
              "--opt", all7, "--map", "eta_rel,rho_rel", "--x", "0.25:5", "--y",
              "0:3", "--grid", z->map_grid, "--seeds", NUM(6, z->map_seeds),
              "--steps", NUM(7, z->toy_steps), "--threads", "0", "--resume",
              "--seed", DEMO_SEED, "--out", P("%s/toy/selective-map", out),
              NULL);
  ph_demo_add(d, "potholes lab: the pit's landscape", "slice-pothole2d",
              P("%s/toy/slice/surface_loss.npy", out), 2, "slice",
              "--landscape", lab, "--dirs", "axes", "--grid", z->toy_grid,
              "--range", "-1:3.5,-2.25:2.25", "--out", P("%s/toy/slice", out),
              NULL);
  /* 2. Amplification sweep on potholeNd and the wide-basin check. */
  ph_demo_add(d, "amplification sweep, wide basin", "toy-sweep",
              P("%s/toy/sweep/amplification.csv", out),
              prof == PROFILE_QUICK ? 3 : 10, "toy", "--landscape", "potholeNd",
              "--sweep", "depth", "--opt", "sam,llqr-sam", "--seeds",
              NUM(2, z->sweep_seeds), "--steps", NUM(3, z->sweep_steps),
              "--start", "pit", "--seed", DEMO_SEED, "--out",
              P("%s/toy/sweep", out), NULL);
  ph_demo_add(d, "amplification sweep, wide basin", "toy-basin",
              P("%s/toy/basin/escape.csv", out), prof == PROFILE_QUICK ? 2 : 5,
              "toy", "--landscape", "pothole2d:a=0.2,b=0.2,d=0", "--opt",
              "sgd,sam,llqr,llqr-sam", "--seeds", NUM(4, z->toy_seeds),
              "--steps", NUM(5, z->toy_steps), "--start", "basin", "--seed",
              DEMO_SEED, "--out", P("%s/toy/basin", out), NULL);
}

/* mlp:64-64:tanh on digits with the four optimisers. */
static void demo_add_training(ph_demo *d, const demo_sizes *z, profile prof,
                              const char *out) {
  char num[8][32];
  /* 3. Training: mlp:64-64:tanh on digits with the four optimisers. */
  for (int i = 0; i < N_OPT; i++)
    ph_demo_add(d, "training mlp:64-64:tanh on digits",
                P("train-%s", OPTIMISERS[i]),
                P("%s/train/%s/run.json", out, OPTIMISERS[i]),
                prof == PROFILE_QUICK ? 4 : 25, "train", "--model",
                "mlp:64-64:tanh", "--data", "digits", "--opt", OPTIMISERS[i],
                "--steps", NUM(0, z->train_steps), "--batch", NUM(1, z->batch),
                "--seed", DEMO_SEED, "--resume", "--out",
                P("%s/train/%s", out, OPTIMISERS[i]), NULL);
}

/* The stage after the MLP trainings. Spectra, sharpness and slices read
 * only the MLP runs, and nothing reads the CNN run but the summary, so the
 * CNN trains in this stage, started first: it is the demo's longest job
 * (about 55 s of the default profile's 101 s on a quiet machine when it
 * ran alone at the end of the training stage), and here the other slot
 * works through the spectra and slices meanwhile. The jobs and their
 * commands are the same as when each group had its own stage. */
static const char CURV_STAGE[] = "spectra, sharpness, slices; CNN";

/* The CNN on a Fashion-MNIST subset with llqr-sam (when installed). */
static void demo_add_cnn(ph_demo *d, const demo_sizes *z, const char *out) {
  char num[8][32];
  if (z->cnn && have_fashion_mnist())
    ph_demo_add(d, CURV_STAGE, "train-cnn-fashion",
                P("%s/train-cnn/llqr-sam/run.json", out), 60, "train",
                "--model", "cnn", "--data", "fashion-mnist", "--n",
                NUM(2, z->cnn_train_n), "--opt", "llqr-sam", "--steps",
                NUM(3, z->cnn_steps), "--batch", "64", "--seed", DEMO_SEED,
                "--resume", "--out", P("%s/train-cnn/llqr-sam", out), NULL)
        ->optional = 1;
}

/* Spectra local and preconditioned, and pothole sharpness. */
static void demo_add_spectra(ph_demo *d, const demo_sizes *z, profile prof,
                             const char *out) {
  char num[8][32];
  /* 4. Spectra of each trained model (local), and relative to the averaged
   *    geometry that llqr-sam learned; pothole sharpness. */
  for (int i = 0; i < N_OPT; i++) {
    const char *ck = P("%s/train/%s/ckpt/final.ckpt", out, OPTIMISERS[i]);
    ph_demo_add(d, CURV_STAGE, P("spectrum-%s", OPTIMISERS[i]),
                P("%s/spectra/%s/local/spectrum.json", out, OPTIMISERS[i]),
                prof == PROFILE_QUICK ? 3 : 15, "spectrum", "--ckpt", ck, "--n",
                NUM(0, z->eval_n), "--k", NUM(1, z->k), "--which", "both",
                "--density", "--probes", NUM(2, z->probes), "--steps",
                NUM(3, z->slq_steps), "--trace", "--seed", DEMO_SEED, "--out",
                P("%s/spectra/%s/local", out, OPTIMISERS[i]), NULL);
    ph_demo_add(d, CURV_STAGE, P("spectrum-precond-%s", OPTIMISERS[i]),
                P("%s/spectra/%s/precond/spectrum.json", out, OPTIMISERS[i]),
                prof == PROFILE_QUICK ? 3 : 15, "spectrum", "--ckpt", ck, "--n",
                NUM(0, z->eval_n), "--operator", "precond", "--precond",
                P("%s/train/llqr-sam", out), "--k", NUM(1, z->k), "--which",
                "both", "--density", "--probes", NUM(2, z->probes), "--steps",
                NUM(3, z->slq_steps), "--seed", DEMO_SEED, "--out",
                P("%s/spectra/%s/precond", out, OPTIMISERS[i]), NULL);
    ph_demo_add(d, CURV_STAGE, P("sharpness-%s", OPTIMISERS[i]),
                P("%s/sharpness/%s/sharpness.json", out, OPTIMISERS[i]),
                prof == PROFILE_QUICK ? 2 : 10, "sharpness", "--ckpt", ck,
                "--n", NUM(0, z->eval_n), "--precond",
                P("%s/train/llqr-sam", out), "--k", NUM(1, z->k), "--seed",
                DEMO_SEED, "--out", P("%s/sharpness/%s", out, OPTIMISERS[i]),
                NULL);
  }
}

/* A 2-D slice around each trained model with its PCA trajectory. */
static void demo_add_slices(ph_demo *d, const demo_sizes *z, profile prof,
                            const char *out) {
  char num[8][32];
  /* 5. A 2-D slice around each trained model with its PCA trajectory. */
  for (int i = 0; i < N_OPT; i++)
    ph_demo_add(d, CURV_STAGE, P("slice-%s", OPTIMISERS[i]),
                P("%s/slices/%s/surface_loss.npy", out, OPTIMISERS[i]),
                prof == PROFILE_QUICK ? 3 : 15, "slice", "--run",
                P("%s/train/%s", out, OPTIMISERS[i]), "--dirs", "pca", "--n",
                NUM(0, z->eval_n), "--grid", z->grid, "--seed", DEMO_SEED,
                "--out", P("%s/slices/%s", out, OPTIMISERS[i]), NULL);
}

/* Figures, PDF and PNG. */
static void demo_add_figures(ph_demo *d, const demo_sizes *z, profile prof,
                             const char *out) {
  (void)prof;
  (void)z;
  /* 6. Figures, PDF and PNG. */
  static const char *const EXT[] = {"pdf", "png"};
  for (int e = 0; e < 2; e++) {
    const char *fx = EXT[e];
    ph_demo_add(
        d, "figures", P("fig-escape-landscape-%s", fx),
        P("%s/figures/escape_landscape.%s", out, fx), 1, "plot", "contour",
        P("%s/toy/slice", out), "--traj", P("%s/toy/pothole2d", out), "--title",
        "pothole2d: escape trajectories", "--xlabel", "x", "--ylabel", "y",
        "--out", P("%s/figures/escape_landscape.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-regime-%s", fx),
                P("%s/figures/regime.%s", out, fx), 1, "plot", "regime",
                P("%s/toy/selective-map", out), "--xlabel", "η / η*",
                "--ylabel", "ρ / pit width", "--out",
                P("%s/figures/regime.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-escape-rates-%s", fx),
                P("%s/figures/escape_rates.%s", out, fx), 1, "plot", "escape",
                P("%s/toy/pothole2d", out), "--title", "escape from the pit",
                "--out", P("%s/figures/escape_rates.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-basin-%s", fx),
                P("%s/figures/basin_stability.%s", out, fx), 1, "plot",
                "escape", P("%s/toy/basin", out), "--title",
                "wide basin (should stay)", "--out",
                P("%s/figures/basin_stability.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-amplification-%s", fx),
                P("%s/figures/amplification.%s", out, fx), 1, "plot",
                "amplification", P("%s/toy/sweep", out), "--title",
                "escape amplification, potholeNd", "--out",
                P("%s/figures/amplification.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-curves-%s", fx),
                P("%s/figures/training_curves.%s", out, fx), 1, "plot",
                "curves", P("%s/train/sgd", out), P("%s/train/sam", out),
                P("%s/train/llqr", out), P("%s/train/llqr-sam", out), "--log",
                "--out", P("%s/figures/training_curves.%s", out, fx), NULL);
    ph_demo_add(d, "figures", P("fig-spectrum-%s", fx),
                P("%s/figures/spectrum_llqr-sam.%s", out, fx), 1, "plot",
                "spectrum", P("%s/spectra/llqr-sam/local", out),
                P("%s/spectra/llqr-sam/precond", out), "--title",
                "Hessian: local vs averaged geometry", "--out",
                P("%s/figures/spectrum_llqr-sam.%s", out, fx), NULL);
    for (int i = 0; i < N_OPT; i++)
      ph_demo_add(
          d, "figures", P("fig-slice-%s-%s", OPTIMISERS[i], fx),
          P("%s/figures/slice_%s.%s", out, OPTIMISERS[i], fx), 1, "plot",
          "contour", P("%s/slices/%s", out, OPTIMISERS[i]), "--title",
          P("%s: loss around the final model (PCA plane)", OPTIMISERS[i]),
          "--out", P("%s/figures/slice_%s.%s", out, OPTIMISERS[i], fx), NULL);
  }
}

int ph_cmd_demo(int argc, char **argv) {
  const char *out = NULL;
  profile prof = PROFILE_DEFAULT;
  int quick = 0, full = 0;
  size_t jobs = 2;
  const ph_opt opts[] = {
      PH_OPT_OUT_DIR(&out),
      {"quick", NULL, PH_OPT_FLAG, &quick,
       .help = "small sizes, about a minute on two cores"},
      {"full", NULL, PH_OPT_FLAG, &full,
       .help = "larger sizes, closer to the paper (tens of minutes)\n"
               "(default: about five minutes on two cores)"},
      {"jobs", "N", PH_OPT_SIZE, &jobs, .lo = 1, .hi = 8,
       .help = "commands run at once"},
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "--out DIR [--quick | --full] [--jobs N]",
      "The whole study on embedded defaults with fixed seeds: the potholes\n"
      "lab (pothole2d escape table and trajectories, the potholeNd\n"
      "amplification sweep, the wide-basin check), mlp:64-64:tanh on\n"
      "digits with sgd, sam, llqr and llqr-sam (and the default CNN on a\n"
      "Fashion-MNIST subset when installed, except --quick), spectra local\n"
      "and preconditioned, pothole sharpness, slices with trajectories, and\n"
      "the figures (DIR/figures, PDF and PNG). DIR/summary.md and\n"
      "DIR/summary.json hold every number with the command behind it.\n"
      "Running the same command again resumes a killed demo.",
      opts,
      0,
      0};
  int rc = ph_cli_parse(&spec, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  if (quick && full)
    return ph_cli_usage(CMD, "--quick and --full exclude each other");
  if (quick) prof = PROFILE_QUICK;
  if (full) prof = PROFILE_FULL;
  const demo_sizes *z = &SIZES[prof];

  ph_error err = {0};
  if (ph_mkdir_p(out, &err) != PH_OK) return ph_cli_fail(CMD, err.code, &err);
  ph_demo demo, *d = &demo;
  if (ph_demo_init(d, out, (int)jobs) != 0) {
    fprintf(stderr, "pothole demo: out of memory\n");
    return 1;
  }

  demo_add_lab(d, z, prof, out);
  demo_add_training(d, z, prof, out);
  demo_add_cnn(d, z, out);
  demo_add_spectra(d, z, prof, out);
  demo_add_slices(d, z, prof, out);
  demo_add_figures(d, z, prof, out);

  if (ph_mkdir_p(P("%s/figures", out), &err) != PH_OK) {
    ph_demo_free(d);
    return ph_cli_fail(CMD, err.code, &err);
  }
  double t0 = ph_now();
  rc = ph_demo_run(d);
  if (rc == 0) {
    ph_status s = ph_demo_summary_write(d, z->name, ph_now() - t0, &err);
    if (s != PH_OK)
      rc = ph_cli_fail(CMD, s, &err);
    else
      fprintf(stderr,
              "pothole demo: done in %.0f s: %s/summary.md, figures in "
              "%s/figures\n",
              ph_now() - t0, out, out);
  }
  ph_demo_free(d);
  return rc;
}
