/* cmd_plot.c: `pothole plot KIND INPUT... --out FILE.(png|pdf|svg)`.
 * Thin: parse and validate options, then ph_plot_recipe (plots/) draws from
 * the files other commands wrote and writes one file atomically. A bad
 * input is reported naming the file; no output is left behind. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "plot_recipes.h"

static const char *const CMD = "plot";

static void usage(void) {
  printf(
      "usage: pothole plot KIND INPUT... --out FILE.(png|pdf|svg) [options]\n"
      "\n"
      "Draw a figure from files written by other pothole commands (nothing is\n"
      "recomputed). The output format follows the extension of --out.\n"
      "\n"
      "kinds and inputs:\n"
      "  surface DIR          heatmap of slice DIR/surface_loss.npy with "
      "iso-lines\n"
      "  contour DIR          filled contours of a slice, its trajectory.csv, "
      "and\n"
      "                       optionally the toy trajectories of --traj "
      "TOYDIR\n"
      "  surface3d DIR        3-D surface of a slice\n"
      "  slice1d DIR...       1-D slices (slice1d.csv or x.npy + "
      "surface_loss.npy)\n"
      "  spectrum DIR...      spectral densities (semilog-y, with bands) and "
      "Ritz\n"
      "                       values with residual bars; several DIRs overlay\n"
      "  curves DIR...        training curves from run DIRs (log.csv, "
      "run.json)\n"
      "  escape DIR|CSV       escape rates with intervals (toy "
      "DIR/escape.csv)\n"
      "  amplification DIR|CSV  measured vs predicted amplification, y = x "
      "line\n"
      "\n"
      "options (default in brackets):\n"
      "  -o, --out FILE       output .png, .pdf or .svg [required]\n"
      "      --title TEXT     panel title [none]\n"
      "      --xlabel TEXT    x axis label [per kind, e.g. 'step', 'α']\n"
      "      --ylabel TEXT    y axis label [per kind, e.g. 'loss']\n"
      "      --vmin V         lower end of colours / y axis [data minimum]\n"
      "      --vmax V         upper end of colours / y axis [data maximum]\n"
      "      --levels N       number of contour levels, 0 for none [10]\n"
      "      --log            log colours (2-D kinds) or log y/axes [off]\n"
      "      --cmap NAME      viridis, magma, cividis or coolwarm [viridis]\n"
      "      --size WxH       figure size in inches; 'column' (3.25 in wide) "
      "or\n"
      "                       'twocolumn' (6.75 in) keep the kind's height\n"
      "                       [per kind: 3.25 in wide, 6.75 in for two "
      "panels]\n"
      "      --dpi N          PNG resolution [300]\n"
      "      --labels         write level values on contour lines [off]\n"
      "      --traj DIR       contour: draw trajectories of a toy DIR [none]\n"
      "      --font FAMILY    font family via fontconfig [DejaVu Sans]\n"
      "      --font-size PT   base font size in points [8]\n"
      "      --azim DEG       surface3d azimuth [-60]\n"
      "      --elev DEG       surface3d elevation [30]\n"
      "  -h, --help           show this help and exit\n");
}

enum {
  O_TITLE = 256,
  O_XLABEL,
  O_YLABEL,
  O_VMIN,
  O_VMAX,
  O_LEVELS,
  O_LOG,
  O_CMAP,
  O_SIZE,
  O_DPI,
  O_LABELS,
  O_TRAJ,
  O_FONT,
  O_FONTSIZE,
  O_AZIM,
  O_ELEV
};

static int parse_size(const char *arg, double *w, double *h) {
  if (!strcmp(arg, "column")) return *w = PH_PLOT_COLUMN_IN, *h = 0, 0;
  if (!strcmp(arg, "twocolumn")) return *w = PH_PLOT_TWOCOLUMN_IN, *h = 0, 0;
  char *end;
  double a = strtod(arg, &end);
  if (end == arg || (*end != 'x' && *end != 'X'))
    return ph_cli_usage(CMD, "--size expects WxH in inches, got '%s'", arg);
  const char *p = end + 1;
  double b = strtod(p, &end);
  if (end == p || *end || !(a >= 0.5 && a <= 100 && b >= 0.5 && b <= 100))
    return ph_cli_usage(
        CMD, "--size expects WxH in inches within 0.5..100, got '%s'", arg);
  *w = a;
  *h = b;
  return 0;
}

int ph_cmd_plot(int argc, char **argv) {
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'},
      {"title", required_argument, 0, O_TITLE},
      {"xlabel", required_argument, 0, O_XLABEL},
      {"ylabel", required_argument, 0, O_YLABEL},
      {"vmin", required_argument, 0, O_VMIN},
      {"vmax", required_argument, 0, O_VMAX},
      {"levels", required_argument, 0, O_LEVELS},
      {"log", no_argument, 0, O_LOG},
      {"cmap", required_argument, 0, O_CMAP},
      {"size", required_argument, 0, O_SIZE},
      {"dpi", required_argument, 0, O_DPI},
      {"labels", no_argument, 0, O_LABELS},
      {"traj", required_argument, 0, O_TRAJ},
      {"font", required_argument, 0, O_FONT},
      {"font-size", required_argument, 0, O_FONTSIZE},
      {"azim", required_argument, 0, O_AZIM},
      {"elev", required_argument, 0, O_ELEV},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  ph_plot_recipe_opts o;
  ph_plot_recipe_opts_default(&o);
  const char *out = NULL;
  ph_error err = {0};
  size_t sz;
  int c, r;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case O_TITLE: o.title = optarg; break;
    case O_XLABEL: o.xlabel = optarg; break;
    case O_YLABEL: o.ylabel = optarg; break;
    case O_VMIN:
      if ((r = ph_cli_double(CMD, "--vmin", optarg, -INFINITY, INFINITY,
                             &o.vmin)))
        return r;
      break;
    case O_VMAX:
      if ((r = ph_cli_double(CMD, "--vmax", optarg, -INFINITY, INFINITY,
                             &o.vmax)))
        return r;
      break;
    case O_LEVELS:
      if ((r = ph_cli_size(CMD, "--levels", optarg, 0, 60, &sz))) return r;
      o.levels = (int)sz;
      break;
    case O_LOG: o.log = 1; break;
    case O_CMAP:
      if (ph_plot_cmap_from_name(optarg, &o.cmap, &err) != PH_OK)
        return ph_cli_usage(CMD, "%s", err.msg);
      break;
    case O_SIZE:
      if ((r = parse_size(optarg, &o.width_in, &o.height_in))) return r;
      break;
    case O_DPI:
      if ((r = ph_cli_double(CMD, "--dpi", optarg, 10, 2400, &o.dpi))) return r;
      break;
    case O_LABELS: o.labels = 1; break;
    case O_TRAJ: o.traj_dir = optarg; break;
    case O_FONT: o.family = optarg; break;
    case O_FONTSIZE:
      if ((r = ph_cli_double(CMD, "--font-size", optarg, 4, 30, &o.font_pt)))
        return r;
      break;
    case O_AZIM:
      if ((r = ph_cli_double(CMD, "--azim", optarg, -360, 360, &o.azim)))
        return r;
      break;
    case O_ELEV:
      if ((r = ph_cli_double(CMD, "--elev", optarg, -90, 90, &o.elev)))
        return r;
      break;
    case 'h': usage(); return 0;
    default: return ph_cli_usage(CMD, "unknown option");
    }
  }
  if (optind >= argc) return ph_cli_usage(CMD, "missing KIND");
  ph_plot_kind kind;
  if (ph_plot_kind_from_name(argv[optind], &kind, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);
  optind++;
  if (optind >= argc)
    return ph_cli_usage(CMD, "%s: missing INPUT", argv[optind - 1]);
  if (!out) return ph_cli_usage(CMD, "--out FILE is required");
  ph_plot_format fmt;
  if (ph_plot_format_from_path(out, &fmt, &err) != PH_OK)
    return ph_cli_usage(CMD, "%s", err.msg);
  if (isfinite(o.vmin) && isfinite(o.vmax) && !(o.vmax > o.vmin))
    return ph_cli_usage(CMD, "--vmin %g must be below --vmax %g", o.vmin,
                        o.vmax);
  if (o.traj_dir && kind != PH_PLOT_KIND_CONTOUR)
    return ph_cli_usage(CMD, "--traj only applies to 'contour'");
  ph_status s = ph_plot_recipe(kind, (const char *const *)argv + optind,
                               (size_t)(argc - optind), &o, out, &err);
  if (s != PH_OK) return ph_cli_fail(CMD, s, &err);
  printf("%s\n", out);
  return 0;
}
