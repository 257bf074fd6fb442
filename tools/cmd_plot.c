/* cmd_plot.c: `pothole plot KIND INPUT... --out FILE.(png|pdf|svg)`.
 * Thin: parse and validate options, then ph_plot_recipe (plots/) draws from
 * the files other commands wrote and writes one file atomically. A bad
 * input is reported naming the file; no output is left behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "plot_recipes.h"

static const char *const CMD = "plot";

/* What each kind draws and from which inputs (the about text of
 * `pothole plot KIND --help`). */
static const char *const KIND_ABOUT[PH_PLOT_N_KINDS] = {
    [PH_PLOT_KIND_SURFACE] = "DIR: heatmap of slice DIR/surface_loss.npy with "
                             "iso-lines.",
    [PH_PLOT_KIND_CONTOUR] = "DIR: filled contours of a slice, its "
                             "trajectory.csv, and\noptionally the toy "
                             "trajectories of --traj TOYDIR.",
    [PH_PLOT_KIND_SURFACE3D] = "DIR: 3-D surface of a slice.",
    [PH_PLOT_KIND_SLICE1D] = "DIR...: 1-D slices (slice1d.csv or x.npy + "
                             "surface_loss.npy).",
    [PH_PLOT_KIND_SPECTRUM] = "DIR...: spectral densities (semilog-y, with "
                              "bands) and Ritz\nvalues with residual bars; "
                              "several DIRs overlay.",
    [PH_PLOT_KIND_CURVES] = "DIR...: training curves from run DIRs (log.csv, "
                            "run.json).",
    [PH_PLOT_KIND_ESCAPE] = "DIR|CSV: escape rates with intervals (toy "
                            "DIR/escape.csv).",
    [PH_PLOT_KIND_AMPLIFICATION] = "DIR|CSV: measured vs predicted "
                                   "amplification, y = x line.",
    [PH_PLOT_KIND_REGIME] = "DIR: regime map of `pothole toy --map` (map.csv): "
                            "escape rate per optimiser, llqr-sam minus the "
                            "best control (dots: intervals do not overlap), "
                            "contour eta/eta* = 1.",
    [PH_PLOT_KIND_CURVATURE] = "DIR...: λmax(H) (and per layer) and "
                               "λmax(P½HP½) through training\n(curvature.csv "
                               "of train --watch-every) against 2/η and "
                               "2(1+μ)/η.",
};

/* Which kinds an option applies to (bit k = kind k). */
#define ALL_KINDS ((1u << PH_PLOT_N_KINDS) - 1)
#define KIND(k) (1u << (k))
#define MAPS                                                                   \
  (KIND(PH_PLOT_KIND_SURFACE) | KIND(PH_PLOT_KIND_CONTOUR) |                   \
   KIND(PH_PLOT_KIND_SURFACE3D))

/* "column", "twocolumn" or WxH in inches, each within 0.5..100. */
static int parse_size(const char *cmd, const char *arg, double *w, double *h) {
  if (!strcmp(arg, "column")) return *w = PH_PLOT_COLUMN_IN, *h = 0, 0;
  if (!strcmp(arg, "twocolumn")) return *w = PH_PLOT_TWOCOLUMN_IN, *h = 0, 0;
  const char *x = strpbrk(arg, "xX");
  char a[64];
  if (!x || (size_t)(x - arg) >= sizeof a)
    return ph_cli_usage(cmd, "--size expects WxH in inches, got '%s'", arg);
  memcpy(a, arg, (size_t)(x - arg));
  a[x - arg] = '\0';
  if (ph_cli_double(cmd, "--size", a, 0.5, 100, w) ||
      ph_cli_double(cmd, "--size", x + 1, 0.5, 100, h))
    return 2;
  return 0;
}

int ph_cmd_plot(int argc, char **argv) {
  ph_plot_recipe_opts o;
  ph_plot_recipe_opts_default(&o);
  const char *out = NULL, *size = NULL;
  ph_error err = {0};
  size_t levels = (size_t)o.levels;
  int cmap = (int)o.cmap;
  const char *cmaps[PH_PLOT_N_CMAPS + 1] = {0};
  for (int i = 0; i < PH_PLOT_N_CMAPS; i++)
    cmaps[i] = ph_plot_cmap_name((ph_plot_cmap)i);
  const ph_opt all[] = {
      PH_OPT_OUT_FILE(&out),
      {"title", "TEXT", PH_OPT_STRING, &o.title, .help = "panel title"},
      {"xlabel", "TEXT", PH_OPT_STRING, &o.xlabel,
       .help = "x axis label (default per kind, e.g. 'step', 'α')",
       .flags = PH_OPT_NO_DEFAULT},
      {"ylabel", "TEXT", PH_OPT_STRING, &o.ylabel,
       .help = "y axis label (default per kind, e.g. 'loss')",
       .flags = PH_OPT_NO_DEFAULT},
      {"vmin", "V", PH_OPT_DOUBLE, &o.vmin,
       .help = "lower end of colours / y axis (default data minimum)",
       .flags = PH_OPT_NO_DEFAULT},
      {"vmax", "V", PH_OPT_DOUBLE, &o.vmax,
       .help = "upper end of colours / y axis (default data maximum)",
       .flags = PH_OPT_NO_DEFAULT},
      {"levels", "N", PH_OPT_SIZE, &levels, .lo = 0, .hi = 60,
       .help = "number of contour levels, 0 for none"},
      {"log", NULL, PH_OPT_FLAG, &o.log,
       .help = "log colours (2-D kinds) or log y/axes"},
      {"cmap", "NAME", PH_OPT_CHOICE, &cmap, .choices = cmaps,
       .help = "colour map"},
      {"size", "WxH", PH_OPT_STRING, &size,
       .help = "figure size in inches; 'column' (3.25 in wide) or\n"
               "'twocolumn' (6.75 in) keep the kind's height\n"
               "(default per kind: 3.25 in wide, 6.75 in for two panels)",
       .flags = PH_OPT_NO_DEFAULT},
      {"dpi", "N", PH_OPT_DOUBLE, &o.dpi, .lo = 10, .hi = 2400,
       .help = "PNG resolution"},
      {"labels", NULL, PH_OPT_FLAG, &o.labels,
       .help = "write level values on contour lines"},
      {"traj", "DIR", PH_OPT_STRING, &o.traj_dir,
       .help = "contour: draw trajectories of a toy DIR"},
      {"font", "FAMILY", PH_OPT_STRING, &o.family,
       .help = "font family via fontconfig"},
      {"font-size", "PT", PH_OPT_DOUBLE, &o.font_pt, .lo = 4, .hi = 30,
       .help = "base font size in points"},
      {"azim", "DEG", PH_OPT_DOUBLE, &o.azim, .lo = -360, .hi = 360,
       .help = "surface3d azimuth"},
      {"elev", "DEG", PH_OPT_DOUBLE, &o.elev, .lo = -90, .hi = 90,
       .help = "surface3d elevation"},
      {0}};
  static const unsigned applies[] = {ALL_KINDS,
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     MAPS,
                                     ALL_KINDS,
                                     MAPS,
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     KIND(PH_PLOT_KIND_SURFACE) |
                                         KIND(PH_PLOT_KIND_CONTOUR),
                                     KIND(PH_PLOT_KIND_CONTOUR),
                                     ALL_KINDS,
                                     ALL_KINDS,
                                     KIND(PH_PLOT_KIND_SURFACE3D),
                                     KIND(PH_PLOT_KIND_SURFACE3D)};
  enum { N_ALL = sizeof applies / sizeof applies[0] };
  _Static_assert(sizeof all / sizeof all[0] == N_ALL + 1, "one mask a row");

  /* `pothole plot --help` (no KIND yet): every option, every kind. */
  char kinds[256] = "";
  for (int k = 0; k < PH_PLOT_N_KINDS; k++) {
    strncat(kinds, k ? ", " : "", sizeof kinds - strlen(kinds) - 1);
    strncat(kinds, ph_plot_kind_name((ph_plot_kind)k),
            sizeof kinds - strlen(kinds) - 1);
  }
  char about[1024];
  snprintf(about, sizeof about,
           "Draw a figure from files written by other pothole commands "
           "(nothing is\nrecomputed). The output format follows the extension "
           "of --out.\nKIND is one of %s;\n'pothole plot KIND --help' lists "
           "its inputs and options.",
           kinds);
  if (argc < 2 || argv[1][0] == '-') {
    const ph_cli_spec top = {CMD,
                             "KIND INPUT... --out FILE.(png|pdf|svg) "
                             "[options]",
                             about,
                             all,
                             1,
                             0};
    char **args;
    size_t nargs;
    int rc = ph_cli_parse(&top, argc, argv, &args, &nargs);
    if (rc >= 0) return rc;
    return ph_cli_usage(CMD, "missing KIND");
  }
  ph_plot_kind kind;
  if (ph_plot_kind_from_name(argv[1], &kind, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);

  /* `pothole plot KIND`: the rows that apply to KIND. */
  ph_opt opts[N_ALL + 1];
  size_t m = 0;
  for (size_t i = 0; i < N_ALL; i++)
    if (applies[i] & KIND(kind)) opts[m++] = all[i];
  opts[m] = (ph_opt){0};
  char cmd[64];
  snprintf(cmd, sizeof cmd, "plot %s", ph_plot_kind_name(kind));
  const ph_cli_spec spec = {cmd,
                            "INPUT... --out FILE.(png|pdf|svg) [options]",
                            KIND_ABOUT[kind],
                            opts,
                            1,
                            0};
  char **inputs;
  size_t n_inputs;
  int rc = ph_cli_parse(&spec, argc - 1, argv + 1, &inputs, &n_inputs);
  if (rc >= 0) return rc;
  o.levels = (int)levels;
  o.cmap = (ph_plot_cmap)cmap;
  if (size && (rc = parse_size(cmd, size, &o.width_in, &o.height_in)))
    return rc;
  ph_plot_format fmt;
  if (ph_plot_format_from_path(out, &fmt, &err) != PH_OK)
    return ph_cli_usage(cmd, "%s", err.msg);
  if (isfinite(o.vmin) && isfinite(o.vmax) && !(o.vmax > o.vmin))
    return ph_cli_usage(cmd, "--vmin %g must be below --vmax %g", o.vmin,
                        o.vmax);
  ph_status s = ph_plot_recipe(kind, (const char *const *)inputs, n_inputs, &o,
                               out, &err);
  if (s != PH_OK) return ph_cli_fail(cmd, s, &err);
  printf("%s\n", out);
  return 0;
}
