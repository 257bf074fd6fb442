/* pothole.c: the `pothole` program: one dispatcher, one file per subcommand.
 * It parses nothing but the subcommand name, --help and --version; each
 * subcommand owns its options (tools/cmd_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "build_id.h"
#include "cli.h"
#include "core/afile.h"
#include "commands.h"
#include "core/dist.h"
#include "core/version.h"

static const char *const data_subs[] = {"info", NULL};
static const char *const bench_subs[] = {"products", NULL};
static const char *const plot_subs[] = {"surface", "contour",       "surface3d",
                                        "slice1d", "spectrum",      "curves",
                                        "escape",  "amplification", NULL};

const ph_cmd ph_commands[] = {
    {"demo", ph_cmd_demo, "the whole study on embedded defaults, with figures",
     NULL},
    {"study", ph_cmd_study,
     "tuned optimiser comparison over seeds, with intervals and figures", NULL},
    {"train", ph_cmd_train, "train a model with SGD, AdamW, SAM, ..., LLQR+SAM",
     NULL},
    {"eval", ph_cmd_eval, "loss, accuracy, gradient, Hv, Gv and LLQR steps",
     NULL},
    {"spectrum", ph_cmd_spectrum, "Hessian eigenvalues, density and trace",
     NULL},
    {"sharpness", ph_cmd_sharpness,
     "local vs averaged-geometry sharpness, potholes", NULL},
    {"toy", ph_cmd_toy, "escape experiments on toy landscapes", NULL},
    {"slice", ph_cmd_slice, "1-D and 2-D loss-landscape slices", NULL},
    {"plot", ph_cmd_plot, "render figures (PNG, PDF, SVG) from outputs",
     plot_subs},
    {"init", ph_cmd_init, "write the initial checkpoint of a model", NULL},
    {"export", ph_cmd_export, "checkpoint to .npy tensors + model.json", NULL},
    {"import", ph_cmd_import, "model.json + .npy tensors to a checkpoint",
     NULL},
    {"check", ph_cmd_check, "gradient and Hv against finite differences", NULL},
    {"data", ph_cmd_data, "describe a data set (data info SPEC)", data_subs},
    {"bench", ph_cmd_bench, "benchmarks (bench products ...)", bench_subs},
    {"completion", ph_cmd_completion, "bash completion script", NULL},
};
const size_t ph_n_commands = sizeof ph_commands / sizeof ph_commands[0];

/* Commands that split their work over the ranks of an MPI job (toy only
 * with --map; study by its runs); any other command refuses to run as
 * several processes (they would all write the same files). */
static const char *const DISTRIBUTED[] = {"slice", "spectrum", "toy", "study"};

static int distributed(const char *name) {
  for (size_t i = 0; i < sizeof DISTRIBUTED / sizeof *DISTRIBUTED; i++)
    if (strcmp(name, DISTRIBUTED[i]) == 0) return 1;
  return 0;
}

/* Run one command as this process's part of the job (one process without
 * mpirun). Only rank 0 writes to stdout. */
static int run_command(const ph_cmd *c, int argc, char **argv) {
  int quiet = 0;
  ph_error err = {0};
  ph_status st = ph_dist_init(&argc, &argv, &quiet, &err);
  if (st) {
    if (!quiet) fprintf(stderr, "pothole %s: %s\n", c->name, err.msg);
    ph_dist_finalize();
    return 2;
  }
  if (ph_dist_size() > 1 && !distributed(c->name)) {
    if (ph_dist_rank() == 0)
      fprintf(stderr,
              "pothole %s: runs as one process, not as %d (start it without "
              "mpirun; distributed: slice, spectrum, toy --map, study)\n",
              c->name, ph_dist_size());
    ph_dist_finalize();
    return 2;
  }
  if (ph_dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) {
    fprintf(stderr, "pothole %s: rank %d cannot silence its stdout\n", c->name,
            ph_dist_rank());
    ph_dist_abort(1);
  }
  int rc = c->run(argc, argv);
  /* The last agreement: a rank that failed after the others finished their
   * part still ends the job as a failure (no-op after a failed one). */
  if (ph_dist_size() > 1) {
    ph_status mine = rc == 0 ? PH_OK : rc == 2 ? PH_ERR_ARG : PH_ERR_IO;
    if (ph_dist_agree(mine, 0, NULL, NULL) != PH_OK && rc == 0)
      rc = ph_status_exit_code(ph_dist_job_status());
  }
  ph_dist_finalize();
  return rc;
}

static void usage(FILE *fp) {
  fprintf(fp, "usage: pothole COMMAND [OPTIONS]\n"
              "       pothole COMMAND --help\n"
              "       pothole --version\n\n"
              "pothole: loss-landscape analysis for SAM, LLQR and LLQR+SAM.\n\n"
              "commands:\n");
  for (size_t i = 0; i < ph_n_commands; i++)
    fprintf(fp, "  %-10s %s\n", ph_commands[i].name, ph_commands[i].summary);
  fprintf(fp, "\nExit codes: 0 success, 1 runtime failure, 2 usage error.\n");
}

int main(int argc, char **argv) {
  /* GSL aborts on errors by default; the library checks return codes. */
  gsl_set_error_handler_off();
  /* One BLAS thread unless a command asks for more (--threads): the products
   * here are small GEMMs, where OpenBLAS's threads cost more than they give,
   * and one thread makes every number independent of the machine. */
  ph_cli_set_blas_threads(1);
  /* Input size caps (core/afile.h), overridable from the environment. */
  static const char *const cap_env[2] = {"POTHOLE_MAX_INPUT",
                                         "POTHOLE_MAX_DATA"};
  for (int k = 0; k < 2; k++) {
    const char *v = getenv(cap_env[k]);
    size_t bytes;
    if (!v) continue;
    if (ph_parse_byte_size(v, &bytes) != 0) {
      char esc[256];
      ph_escape_printable(esc, sizeof esc, v);
      fprintf(stderr,
              "pothole: %s='%s' is not a size (bytes, or with K, M or G)\n",
              cap_env[k], esc);
      return 2;
    }
    ph_input_cap_set((ph_input_kind)k, bytes);
  }
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--help-man") == 0) {
    ph_cli_print_main_man(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    const char *commit = ph_build_commit();
    printf("pothole %s%s%s%s\n", PH_VERSION, commit[0] ? " (git " : "", commit,
           commit[0] ? ")" : "");
    return 0;
  }
  for (size_t i = 0; i < ph_n_commands; i++)
    if (strcmp(argv[1], ph_commands[i].name) == 0)
      return run_command(&ph_commands[i], argc - 1, argv + 1);
  fprintf(stderr, "pothole: unknown command '%s' (see 'pothole --help')\n",
          argv[1]);
  return 2;
}
