/* test_plot_cli.c: `pothole plot` end to end (path in PH_POTHOLE).
 * Writes small hand-made inputs in the formats of the slice, spectrum,
 * train and toy commands, renders every kind in PNG/PDF/SVG, and checks the
 * failures: exit 1 with one line naming the bad file and no output left
 * behind; exit 2 for usage errors; --help lists the options with defaults.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/afile.h"
#include "core/json.h"
#include "core/npy.h"

static char tmpdir[256];
static const char *exe;
static char out_buf[8192], err_buf[8192];

static char *tp(const char *name) {
  static char buf[8][600];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%.255s/%.300s", tmpdir, name);
  return buf[k];
}

static void put(const char *name, const char *text) {
  assert_int_equal(ph_write_file_atomic(tp(name), text, strlen(text), NULL),
                   PH_OK);
}

static void slurp(const char *path, char *buf, size_t cap) {
  buf[0] = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
}

/* Run `pothole plot ARGS`; returns the exit code, output in out_buf/err_buf. */
static int run(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot %s >'%s' 2>'%s'", tmpdir, exe,
           args, tp("stdout.txt"), tp("stderr.txt"));
  int st = system(cmd);
  slurp(tp("stdout.txt"), out_buf, sizeof out_buf);
  slurp(tp("stderr.txt"), err_buf, sizeof err_buf);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One line, "pothole plot: ..." before the kind is known, "pothole plot
 * KIND: ..." after it. */
static int one_line(const char *s) {
  const char *nl = strchr(s, '\n');
  if (!nl || nl[1] != 0 || strncmp(s, "pothole plot", 12) != 0) return 0;
  const char *p = s + 12;
  if (*p == ' ') {
    p++;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) p++;
  }
  return p[0] == ':' && p[1] == ' ';
}

static void make_slice(const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", tmpdir, dir);
  assert_int_equal(ph_mkdir_p(path, NULL), PH_OK);
  enum { NX = 9, NY = 7 };
  double x[NX], y[NY], z[NX * NY];
  for (int i = 0; i < NX; i++) x[i] = -1 + 2.0 * i / (NX - 1);
  for (int j = 0; j < NY; j++) y[j] = -0.5 + 1.0 * j / (NY - 1);
  for (int j = 0; j < NY; j++)
    for (int i = 0; i < NX; i++)
      z[j * NX + i] = 1 + x[i] * x[i] + 2 * y[j] * y[j];
  size_t shape[2] = {NY, NX};
  char p[700];
  snprintf(p, sizeof p, "%s/surface_loss.npy", path);
  assert_int_equal(ph_npy_write(p, z, 2, shape, NULL), PH_OK);
  snprintf(p, sizeof p, "%s/x.npy", path);
  assert_int_equal(ph_npy_write_vec(p, x, NX, NULL), PH_OK);
  snprintf(p, sizeof p, "%s/y.npy", path);
  assert_int_equal(ph_npy_write_vec(p, y, NY, NULL), PH_OK);
  char rel[600];
  snprintf(rel, sizeof rel, "%s/slice.json", dir);
  put(rel, "{\"grid\": [9, 7]}\n");
  snprintf(rel, sizeof rel, "%s/trajectory.csv", dir);
  put(rel, "step,x,y,loss_at_point,off_plane\n0,-0.8,0.4,2,0.3\n10,-0.3,0.1,1."
           "2,0.2\n"
           "20,0,0,1,0.05\n");
}

static int setup(void **state) {
  (void)state;
  exe = getenv("PH_POTHOLE");
  if (!exe || access(exe, X_OK) != 0) {
    fprintf(stderr, "PH_POTHOLE not set: skipped\n");
    exit(77);
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ph_plot_cli.XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  make_slice("slice");
  /* 1-D slice */
  assert_int_equal(ph_mkdir_p(tp("s1"), NULL), PH_OK);
  put("s1/slice1d.csv", "alpha,loss,quadratic\n-1,2,2.1\n-0.5,1.2,1.25\n0,1,1\n"
                        "0.5,1.3,1.25\n1,2.2,2.1\n");
  /* spectra */
  assert_int_equal(ph_mkdir_p(tp("sp1"), NULL), PH_OK);
  assert_int_equal(ph_mkdir_p(tp("sp2"), NULL), PH_OK);
  put("sp1/spectrum.json",
      "{\"operator\": \"hessian\", \"eigenvalues\": [9, 4, 2],"
      " \"residual_bounds\": [0.1, 0.2, 0.05]}");
  put("sp2/spectrum.json",
      "{\"operator\": \"precond\", \"eigenvalues\": [3, 1.5, 1]}");
  const char *dens =
      "t,density,band_lo,band_hi\n-1,0.001,0.0005,0.002\n0,2,1,3\n"
      "1,0.1,0.05,0.2\n5,0.01,0.005,0.02\n10,0.001,0.0005,0.002\n";
  put("sp1/density.csv", dens);
  put("sp2/density.csv", dens);
  /* runs */
  assert_int_equal(ph_mkdir_p(tp("run_a"), NULL), PH_OK);
  assert_int_equal(ph_mkdir_p(tp("run_b"), NULL), PH_OK);
  const char *log =
      "step,epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm\n"
      "0,0,0.1,2.3,0.1,2.3,0.1,1\n10,0,0.1,1.5,0.4,,nan,1\n"
      "20,1,0.1,0.9,0.7,1.0,0.68,1\n";
  put("run_a/log.csv", log);
  put("run_b/log.csv", log);
  put("run_a/run.json", "{\"optimizer\": \"sgd\", \"seed\": 1}");
  put("run_b/run.json", "{\"config\": {\"optimizer\": {\"name\": \"sam\"}}}");
  /* toy */
  assert_int_equal(ph_mkdir_p(tp("toy/trajectories"), NULL), PH_OK);
  put("toy/escape.csv",
      "optimizer,escape_rate,ci_lo,ci_hi,median_escape_step,"
      "final_loss_mean,final_loss_std\nsgd,0.1,0.05,0.2,100,1,0.1\n"
      "sam,0.6,0.5,0.7,40,0.8,0.1\n");
  double tr[2 * 3 * 2] = {0, 0, 0.2, 0.1, 0.4, 0.1, 0, 0, -0.1, 0.2, -0.3, 0.3};
  size_t shape[3] = {2, 3, 2};
  assert_int_equal(
      ph_npy_write(tp("toy/trajectories/sgd.npy"), tr, 3, shape, NULL), PH_OK);
  assert_int_equal(
      ph_npy_write(tp("toy/trajectories/sam.npy"), tr, 3, shape, NULL), PH_OK);
  put("toy/amplification.csv",
      "pi,predicted,measured,ci_lo,ci_hi\n1,1,1.1,0.9,1.3\n"
      "2,2,1.8,1.5,2.1\n4,4,4.3,3.9,4.8\n");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static int file_starts(const char *path, const char *magic, size_t n) {
  char buf[16] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  return got == n && memcmp(buf, magic, n) == 0;
}

static void test_every_kind(void **state) {
  (void)state;
  static const char *const cases[][2] = {
      {"surface slice --title T --labels --out a.png", "a.png"},
      {"contour slice --traj toy --labels --cmap cividis --out b.pdf", "b.pdf"},
      {"surface3d slice --azim 30 --elev 40 --out c.svg", "c.svg"},
      {"slice1d s1 --log --out d.png --dpi 72", "d.png"},
      {"spectrum sp1 sp2 --out e.pdf", "e.pdf"},
      {"curves run_a run_b --log --out f.png --dpi 72", "f.png"},
      {"escape toy --out g.svg", "g.svg"},
      {"amplification toy/amplification.csv --log --out h.png --dpi 72",
       "h.png"},
      {"surface slice --log --vmin 1 --vmax 4 --cmap coolwarm --size 6.75x3 "
       "--font 'DejaVu Serif' --font-size 9 --out i.png --dpi 50",
       "i.png"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int rc = run(cases[k][0]);
    if (rc != 0)
      fprintf(stderr, "case '%s': rc %d: %s", cases[k][0], rc, err_buf);
    assert_int_equal(rc, 0);
    const char *p = tp(cases[k][1]);
    const char *ext = strrchr(p, '.');
    if (!strcmp(ext, ".png")) assert_true(file_starts(p, "\x89PNG", 4));
    if (!strcmp(ext, ".pdf")) assert_true(file_starts(p, "%PDF", 4));
    if (!strcmp(ext, ".svg")) assert_true(file_starts(p, "<?xml", 5));
    assert_non_null(strstr(out_buf, cases[k][1]));
  }
}

static void expect_fail(const char *args, int code, const char *needle,
                        const char *out) {
  int rc = run(args);
  if (rc != code || !strstr(err_buf, needle) || !one_line(err_buf))
    fprintf(stderr, "case '%s': rc %d: %s", args, rc, err_buf);
  assert_int_equal(rc, code);
  assert_true(one_line(err_buf));
  assert_non_null(strstr(err_buf, needle));
  if (out) assert_false(ph_path_exists(tp(out)));
}

static void test_errors(void **state) {
  (void)state;
  /* missing and malformed inputs: exit 1, the file is named, no output */
  make_slice("bad1");
  assert_int_equal(unlink(tp("bad1/x.npy")), 0);
  expect_fail("surface bad1 --out o1.png", 1, "bad1/x.npy", "o1.png");
  make_slice("bad2");
  put("bad2/surface_loss.npy", "this is not an npy file");
  expect_fail("contour bad2 --out o2.pdf", 1, "surface_loss.npy", "o2.pdf");
  make_slice("bad3");
  double v[3] = {1, 2, 3};
  assert_int_equal(ph_npy_write_vec(tp("bad3/y.npy"), v, 3, NULL), PH_OK);
  expect_fail("surface3d bad3 --out o3.svg", 1, "surface_loss.npy", "o3.svg");
  make_slice("bad4");
  put("bad4/slice.json", "{\"grid\": [9, 7");
  expect_fail("surface bad4 --out o4.png", 1, "slice.json", "o4.png");
  expect_fail("surface nowhere --out o5.png", 1, "nowhere", "o5.png");
  assert_int_equal(ph_mkdir_p(tp("toy2"), NULL), PH_OK);
  put("toy2/escape.csv", "optimizer,rate\nsgd,0.1\n");
  expect_fail("escape toy2 --out o6.png", 1, "escape_rate", "o6.png");
  expect_fail("contour slice --traj toy2 --out o7.png", 1, "toy2", "o7.png");
  assert_int_equal(ph_mkdir_p(tp("sp3"), NULL), PH_OK);
  put("sp3/spectrum.json",
      "{\"operator\": \"h\", \"eigenvalues\": [1, \"x\"]}");
  put("sp3/density.csv", "t,density\n0,1\n");
  expect_fail("spectrum sp1 sp3 --out o8.png", 1, "sp3/spectrum.json",
              "o8.png");
  assert_int_equal(ph_mkdir_p(tp("run_c"), NULL), PH_OK);
  put("run_c/run.json", "{}");
  expect_fail("curves run_a run_c --out o9.png", 1, "run_c/log.csv", "o9.png");
  put("run_c/log.csv", "step,train_loss\n0,1\n1\n");
  expect_fail("curves run_c --out o9.png", 1, "run_c/log.csv:3", "o9.png");
  expect_fail("surface slice --log --vmin -1 --out o10.png", 2, "--log",
              "o10.png");
  /* a failure never replaces an existing output */
  put("keep.png", "old");
  expect_fail("surface bad1 --out keep.png", 1, "x.npy", NULL);
  char buf[16];
  slurp(tp("keep.png"), buf, sizeof buf);
  assert_string_equal(buf, "old");
  /* usage errors: exit 2 */
  expect_fail("surface slice --out o.jpg", 2, ".png", "o.jpg");
  expect_fail("surface slice", 2, "--out", NULL);
  expect_fail("mountains slice --out o.png", 2, "mountains", "o.png");
  expect_fail("surface --out o.png", 2, "INPUT", "o.png");
  expect_fail("surface slice --out o.png --cmap jet", 2, "jet", "o.png");
  expect_fail("surface slice --out o.png --dpi 0", 2, "--dpi", "o.png");
  expect_fail("surface slice --out o.png --size 3", 2, "--size", "o.png");
  expect_fail("surface slice --out o.png --vmin 2 --vmax 1", 2, "--vmin",
              "o.png");
  expect_fail("surface slice slice --out o.png", 2, "one input", "o.png");
  expect_fail("escape toy --traj toy --out o.png", 2, "--traj", "o.png");
}

static void test_help(void **state) {
  (void)state;
  assert_int_equal(run("--help"), 0);
  static const char *const opts[] = {
      "--out",        "--title", "--xlabel",      "--ylabel",
      "--vmin",       "--vmax",  "--levels",      "--log",
      "--cmap",       "--size",  "--dpi",         "--labels",
      "--traj",       "--font",  "(default 300)", "(default viridis)",
      "(default 10)", NULL};
  for (int i = 0; opts[i]; i++) assert_non_null(strstr(out_buf, opts[i]));
  assert_string_equal(err_buf, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_kind),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_help),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
