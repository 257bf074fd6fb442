/* test_core.c: unit tests for src/core (RNG, vectors, .npy, JSON, CSV,
 * atomic files, checkpoints, gzip) and for the build's BLAS wiring. */
#define _GNU_SOURCE
#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cblas.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/ckpt.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/vec.h"
#include "core/zio.h"

void ph_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                      uint32_t out[4]);

#define PH_TEST_TMP_PREFIX "/tmp/ph_core_test"
#include "../common/ph_test_tmp.h"

static size_t count_dir_entries(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", tmpdir);
  FILE *p = popen(cmd, "r");
  size_t n = 0;
  if (p) {
    if (fscanf(p, "%zu", &n) != 1) n = (size_t)-1;
    pclose(p);
  }
  return n;
}

/* ---- RNG ---------------------------------------------------------------- */

/* Known-answer vectors published with Random123 (kat_vectors, philox4x32_10).
 */
static void test_philox_kat(void **state) {
  (void)state;
  struct {
    uint32_t ctr[4], key[2], want[4];
  } kat[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
    uint32_t out[4];
    ph_philox4x32_10(kat[i].ctr, kat[i].key, out);
    for (int j = 0; j < 4; j++) assert_int_equal(out[j], kat[i].want[j]);
  }
}

static void test_rng_counter_based(void **state) {
  (void)state;
  /* The k-th draw of a stream equals the pure function at index k, so any
   * thread that knows (seed, stream, k) gets the same number. */
  ph_rng r = ph_rng_make(42, 7);
  for (uint64_t k = 0; k < 100; k++)
    assert_true(ph_rng_u64(&r) == ph_rng_bits_at(42, 7, k));
  /* Different streams and seeds differ. */
  assert_true(ph_rng_bits_at(42, 7, 0) != ph_rng_bits_at(42, 8, 0));
  assert_true(ph_rng_bits_at(42, 7, 0) != ph_rng_bits_at(43, 7, 0));
  /* Restoring (seed, stream, counter) continues the same sequence. */
  ph_rng a = ph_rng_make(5, 1);
  for (int i = 0; i < 13; i++) ph_rng_gauss(&a);
  ph_rng b = a;
  for (int i = 0; i < 10; i++)
    assert_true(ph_rng_gauss(&a) == ph_rng_gauss(&b));
}

static void test_rng_moments(void **state) {
  (void)state;
  /* With N draws the sample mean of U(0,1) has sd sqrt(1/12/N); a Gaussian's
   * mean sd 1/sqrt(N) and its variance estimate sd sqrt(2/N). 5 sd bounds
   * fail by chance with probability ~6e-7 for a correct generator. */
  const size_t N = 200000;
  ph_rng r = ph_rng_make(1, PH_RNG_STREAM_USER);
  double su = 0, sg = 0, sg2 = 0, sr = 0;
  for (size_t i = 0; i < N; i++) {
    double u = ph_rng_uniform(&r);
    assert_true(u >= 0.0 && u < 1.0);
    su += u;
    double g = ph_rng_gauss(&r);
    sg += g;
    sg2 += g * g;
    sr += ph_rng_rademacher(&r);
  }
  assert_true(fabs(su / N - 0.5) < 5 * sqrt(1.0 / 12 / N));
  assert_true(fabs(sg / N) < 5 / sqrt((double)N));
  assert_true(fabs(sg2 / N - 1) < 5 * sqrt(2.0 / N));
  assert_true(fabs(sr / N) < 5 / sqrt((double)N));
}

static void test_rng_permutation_and_below(void **state) {
  (void)state;
  ph_rng r = ph_rng_make(3, 4);
  size_t perm[257];
  int seen[257];
  ph_rng_permutation(&r, perm, 257);
  memset(seen, 0, sizeof seen);
  for (size_t i = 0; i < 257; i++) {
    assert_true(perm[i] < 257);
    seen[perm[i]]++;
  }
  for (size_t i = 0; i < 257; i++) assert_int_equal(seen[i], 1);
  /* ph_rng_below(3): each residue ~1/3; chi-square-free 5 sd check. */
  size_t cnt[3] = {0, 0, 0}, N = 30000;
  for (size_t i = 0; i < N; i++) cnt[ph_rng_below(&r, 3)]++;
  double sd = sqrt(N * (1.0 / 3) * (2.0 / 3));
  for (int k = 0; k < 3; k++) assert_true(fabs(cnt[k] - N / 3.0) < 5 * sd);
}

/* ---- vectors and BLAS wiring --------------------------------------------- */

static void test_vec(void **state) {
  (void)state;
  double x[5] = {1, -2, 3, -4, 5}, y[5] = {2, 2, 2, 2, 2};
  assert_true(ph_vec_dot(5, x, y) == 6.0);
  assert_true(fabs(ph_vec_nrm2(5, x) - sqrt(55.0)) <
              4 * DBL_EPSILON * sqrt(55.0));
  ph_vec_axpy(5, 2.0, x, y);
  assert_true(y[3] == -6.0);
  assert_true(ph_vec_amax(5, x) == 5.0);
  x[2] = NAN;
  assert_false(ph_vec_all_finite(5, x));
}

/* ph_vec_all_finite at every length up to past two of its AVX-512
 * blocks' vector loops and tails (and across a block boundary), with one
 * NaN, +inf or -inf at every position, and with only finite extremes
 * (DBL_MAX, subnormals, -0), which must pass. */
static void test_vec_all_finite(void **state) {
  (void)state;
  enum { N = 1100 };
  static double x[N + 8];
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  const double ok[5] = {DBL_MAX, -DBL_MAX, 4.9e-324, -0.0, 1.0};
  for (size_t n = 0; n <= N; n += n < 80 ? 1 : n < 1000 ? 37 : 13) {
    for (size_t i = 0; i < n + 8; i++) x[i] = ok[i % 5];
    x[n] = NAN; /* just past the end: never read */
    assert_true(ph_vec_all_finite(n, x));
    for (size_t p = 0; p < n; p++)
      for (int k = 0; k < 3; k++) {
        double keep = x[p];
        x[p] = bad[k];
        if (ph_vec_all_finite(n, x)) {
          fprintf(stderr, "n %zu: %g at %zu passed\n", n, bad[k], p);
          fail();
        }
        x[p] = keep;
      }
  }
}

/* cblas_dgemm must come from OpenBLAS, not GSL's slow reference gslcblas. */
static void test_cblas_provider(void **state) {
  (void)state;
  Dl_info info;
  void *sym = dlsym(RTLD_DEFAULT, "cblas_dgemm");
  if (!sym) sym = (void *)&cblas_dgemm;
  assert_true(dladdr(sym, &info) != 0);
  assert_non_null(info.dli_fname);
  if (!strstr(info.dli_fname, "openblas")) {
    fprintf(stderr, "cblas_dgemm comes from %s\n", info.dli_fname);
    fail();
  }
}

/* ---- .npy ---------------------------------------------------------------- */

static void test_npy_roundtrip(void **state) {
  (void)state;
  double a[6] = {1.5, -2.25, 1e-300, 1e300, -0.0, 3.141592653589793};
  size_t shape[2] = {2, 3};
  ph_error err = {0};
  assert_int_equal(ph_npy_write(tpath("a.npy"), a, 2, shape, &err), PH_OK);
  ph_npy r;
  assert_int_equal(ph_npy_read(tpath("a.npy"), &r, &err), PH_OK);
  assert_int_equal(r.ndim, 2);
  assert_int_equal(r.shape[0], 2);
  assert_int_equal(r.shape[1], 3);
  assert_int_equal(r.size, 6);
  assert_memory_equal(r.data, a, sizeof a);
  ph_npy_free(&r);
  /* The header is padded to a 64-byte boundary (format spec). */
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("a.npy"), &buf, &len, &err), PH_OK);
  assert_int_equal(len, 128 + 6 * 8);
  assert_int_equal((10 + (buf[8] | buf[9] << 8)) % 64, 0);
  free(buf);
  /* 1-D and int64 */
  int64_t li[3] = {-1, 0, 1LL << 40};
  size_t n3 = 3;
  assert_int_equal(ph_npy_write_i64(tpath("i.npy"), li, 1, &n3, &err), PH_OK);
  assert_int_equal(ph_npy_read(tpath("i.npy"), &r, &err), PH_OK);
  assert_true(r.data[0] == -1 && r.data[2] == (double)(1LL << 40));
  assert_string_equal(r.dtype, "<i8");
  ph_npy_free(&r);
}

static ph_status parse_npy_text(const char *header, const unsigned char *data,
                                size_t dlen, ph_npy *out, ph_error *err) {
  unsigned char buf[512];
  size_t hl = strlen(header);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)hl;
  buf[9] = 0;
  memcpy(buf + 10, header, hl);
  memcpy(buf + 10 + hl, data, dlen);
  return ph_npy_parse(buf, 10 + hl + dlen, "mem.npy", out, err);
}

static void test_npy_dtypes_and_errors(void **state) {
  (void)state;
  ph_npy r;
  ph_error err = {0};
  float f[2] = {1.5f, -2.0f};
  assert_int_equal(parse_npy_text("{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (2,), }\n",
                                  (unsigned char *)f, 8, &r, &err),
                   PH_OK);
  assert_true(r.data[0] == 1.5 && r.data[1] == -2.0);
  ph_npy_free(&r);
  unsigned char u[3] = {0, 7, 255};
  assert_int_equal(parse_npy_text("{'descr': '|u1', 'fortran_order': False, "
                                  "'shape': (3,), }\n",
                                  u, 3, &r, &err),
                   PH_OK);
  assert_true(r.data[2] == 255.0);
  ph_npy_free(&r);
  int32_t i4[2] = {-5, 6};
  assert_int_equal(parse_npy_text("{'descr': '<i4', 'fortran_order': False, "
                                  "'shape': (1, 2), }\n",
                                  (unsigned char *)i4, 8, &r, &err),
                   PH_OK);
  assert_true(r.data[0] == -5.0 && r.shape[1] == 2);
  ph_npy_free(&r);

  const char *bad[] = {
      "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\n",
      "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }\n",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (9,), }\n", /* short */
      "{'descr': '<f8', 'fortran_order': False, }\n",
      "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }\n",
      "['descr']\n",
      "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n",
  };
  double d[4] = {0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ph_error_clear(&err);
    assert_int_equal(
        parse_npy_text(bad[i], (unsigned char *)d, sizeof d, &r, &err),
        PH_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "mem.npy"));
  }
  ph_error_clear(&err);
  assert_int_equal(ph_npy_parse((const unsigned char *)"PK\x03\x04zipzip", 10,
                                "x.npy", &r, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "bad magic"));
  ph_error_clear(&err);
  assert_int_equal(ph_npy_read(tpath("missing.npy"), &r, &err), PH_ERR_IO);
  assert_non_null(strstr(err.msg, "missing.npy"));
}

/* numpy reads what we write and we read what numpy writes (format 1.0 and
 * 2.0, several dtypes). Skipped when Debian's numpy is absent. */
static void test_npy_numpy_interop(void **state) {
  (void)state;
  if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    skip();
    return;
  }
  double a[4] = {0.1, 0.2, 1.0 / 3.0, -7.0};
  size_t shape[2] = {2, 2};
  ph_error err = {0};
  assert_int_equal(ph_npy_write(tpath("w.npy"), a, 2, shape, &err), PH_OK);
  char cmd[2048];
  snprintf(
      cmd, sizeof cmd,
      "/usr/bin/python3 -c \"import numpy as np, sys\n"
      "a = np.load('%s')\n"
      "ok = a.dtype == np.float64 and a.shape == (2, 2) and "
      "a[1, 0] == 1/3 and a[0, 1] == 0.2\n"
      "np.save('%s', np.arange(6, dtype='<f4').reshape(3, 2) / 4)\n"
      "np.save('%s', np.array([[1, -2], [3, 4]], dtype='<i8'))\n"
      "with open('%s', 'wb') as f:\n"
      "    np.lib.format.write_array(f, np.linspace(0, 1, 5), version=(2, 0))\n"
      "sys.exit(0 if ok else 1)\"",
      tpath("w.npy"), tpath("f4.npy"), tpath("i8.npy"), tpath("v2.npy"));
  assert_int_equal(system(cmd), 0);
  ph_npy r;
  assert_int_equal(ph_npy_read(tpath("f4.npy"), &r, &err), PH_OK);
  assert_true(r.shape[0] == 3 && r.shape[1] == 2 && r.data[5] == 1.25);
  ph_npy_free(&r);
  assert_int_equal(ph_npy_read(tpath("i8.npy"), &r, &err), PH_OK);
  assert_true(r.data[1] == -2.0 && r.data[3] == 4.0);
  ph_npy_free(&r);
  assert_int_equal(ph_npy_read(tpath("v2.npy"), &r, &err), PH_OK);
  assert_true(r.size == 5 && r.data[4] == 1.0 && r.data[1] == 0.25);
  ph_npy_free(&r);
}

/* ---- JSON ------------------------------------------------------------------
 */

static void test_json(void **state) {
  (void)state;
  ph_error err = {0};
  cJSON *o = cJSON_CreateObject();
  const char *tricky =
      "quote\" backslash\\ newline\n tab\t unicode \xc3\xa9 ctrl\x01";
  cJSON_AddStringToObject(o, "s", tricky);
  ph_json_add_number(o, "nan", NAN);
  ph_json_add_number(o, "inf", INFINITY);
  ph_json_add_number(o, "x", 0.1 + 0.2);
  ph_json_add_stamp(o);
  assert_int_equal(ph_json_write_file(tpath("o.json"), o, &err), PH_OK);
  cJSON_Delete(o);
  cJSON *r;
  assert_int_equal(ph_json_read_file(tpath("o.json"), &r, &err), PH_OK);
  const char *s;
  assert_int_equal(ph_json_get_string(r, "s", "o.json", &s, &err), PH_OK);
  assert_string_equal(s, tricky);
  double v;
  assert_int_equal(ph_json_get_number(r, "nan", "o.json", &v, &err), PH_OK);
  assert_true(isnan(v));
  assert_int_equal(ph_json_get_number(r, "x", "o.json", &v, &err), PH_OK);
  assert_true(v == 0.1 + 0.2); /* round-trips exactly */
  assert_int_equal(ph_json_get_number(r, "missing", "o.json", &v, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "missing"));
  cJSON_Delete(r);
  /* Syntax errors name the byte offset. */
  ph_error_clear(&err);
  assert_int_equal(
      ph_json_parse("{\"a\": [1, 2,, 3]}", 17, "bad.json", &r, &err),
      PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "bad.json: invalid JSON at byte 12"));
}

/* ---- CSV -------------------------------------------------------------------
 */

static void test_csv(void **state) {
  (void)state;
  ph_error err = {0};
  ph_csv c;
  assert_int_equal(ph_csv_open(&c, tpath("l.csv"), "step,name,loss", &err),
                   PH_OK);
  ph_csv_int(&c, 3);
  ph_csv_str(&c, "a,\"b\"");
  ph_csv_num(&c, 0.1);
  ph_csv_end_row(&c);
  ph_csv_int(&c, 4);
  ph_csv_str(&c, "plain");
  ph_csv_num(&c, NAN);
  ph_csv_end_row(&c);
  assert_int_equal(ph_csv_commit(&c, &err), PH_OK);
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("l.csv"), &buf, &len, &err), PH_OK);
  assert_string_equal((char *)buf,
                      "step,name,loss\n3,\"a,\"\"b\"\"\",0.1\n4,plain,nan\n");
  free(buf);
  char s[40];
  double vals[] = {1.0 / 3.0, 1e-310, 123456789.125, -2.5e300};
  for (size_t i = 0; i < 4; i++) {
    ph_format_double(s, sizeof s, vals[i]);
    assert_true(strtod(s, NULL) == vals[i]);
  }
}

/* The shared reader's edge cases: quotes with "" and commas inside, CRLF,
 * empty and blank lines (skipped, but counted in line numbers), NaN text,
 * blanks around numbers, an empty field, a ragged row (reported as it is:
 * the caller decides), a last line without a newline, and the errors, each
 * naming the file and the line. */
static void test_csv_reader(void **state) {
  (void)state;
  ph_error err = {0};
  static const char text[] = "a,\"b,\"\"q\"\"\",c\r\n"
                             "\n"
                             "   \n"
                             "1,nan,\" 2.5 \"\r\n"
                             "\t\n"
                             "4,,5\n"
                             "6,7";
  ph_csv_reader r;
  ph_csv_reader_init(&r, text, sizeof text - 1, "t.csv");
  int more = 0;
  assert_int_equal(ph_csv_reader_next(&r, &more, &err), PH_OK);
  assert_int_equal(more, 1);
  assert_int_equal(r.line, 1);
  assert_int_equal(r.n_fields, 3);
  assert_string_equal(r.field[0], "a");
  assert_string_equal(r.field[1], "b,\"q\"");
  assert_string_equal(r.field[2], "c");
  assert_int_equal(ph_csv_reader_next(&r, &more, &err), PH_OK);
  assert_int_equal(r.line, 4);
  assert_int_equal(r.n_fields, 3);
  double x = 0;
  assert_int_equal(ph_csv_number(r.field[0], &x), 0);
  assert_true(x == 1);
  assert_int_equal(ph_csv_number(r.field[1], &x), 0);
  assert_true(isnan(x));
  assert_int_equal(ph_csv_number(r.field[2], &x), 0);
  assert_true(x == 2.5);
  assert_int_equal(ph_csv_reader_next(&r, &more, &err), PH_OK);
  assert_int_equal(r.line, 6);
  assert_int_equal(r.n_fields, 3);
  x = 42;
  assert_int_equal(ph_csv_number(r.field[1], &x), -1); /* empty */
  assert_true(x == 42);                                /* untouched */
  assert_int_equal(ph_csv_reader_next(&r, &more, &err), PH_OK);
  assert_int_equal(more, 1);
  assert_int_equal(r.line, 7);
  assert_int_equal(r.n_fields, 2); /* ragged: the reader reports it */
  assert_string_equal(r.field[1], "7");
  assert_int_equal(ph_csv_reader_next(&r, &more, &err), PH_OK);
  assert_int_equal(more, 0);
  ph_csv_reader_free(&r);
  /* not numbers */
  const char *bad[] = {"", " ", "1 2", "1,", "x", "2.5e"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(ph_csv_number(bad[i], &x), -1);
  assert_int_equal(ph_csv_number("-inf", &x), 0);
  assert_true(isinf(x) && x < 0);
  /* errors: an unclosed quote, text after a closing quote, a NUL byte */
  static const struct {
    const char *text;
    size_t len;
    const char *where;
  } errs[] = {{"h\n\n\"abc,1\n", 9, "t.csv:3: bad quoting"},
              {"\"a\"b,c\n", 7, "t.csv:1: bad quoting"},
              {"a,b\nc\0d\n", 8, "t.csv:2: a NUL byte"}};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    ph_csv_reader_init(&r, errs[i].text, errs[i].len, "t.csv");
    ph_status st;
    ph_error_clear(&err);
    while ((st = ph_csv_reader_next(&r, &more, &err)) == PH_OK && more) {
    }
    assert_int_equal(st, PH_ERR_FORMAT);
    assert_non_null(strstr(err.msg, errs[i].where));
    ph_csv_reader_free(&r);
  }
}

/* ---- atomic files ----------------------------------------------------------
 */

static void test_afile(void **state) {
  (void)state;
  ph_error err = {0};
  size_t before = count_dir_entries();
  ph_afile f;
  assert_int_equal(ph_afile_open(&f, tpath("atomic.txt"), &err), PH_OK);
  ph_afile_write(&f, "hello", 5);
  /* Not visible under the final name before commit. */
  assert_false(ph_path_exists(tpath("atomic.txt")));
  assert_int_equal(ph_afile_commit(&f, &err), PH_OK);
  assert_true(ph_path_exists(tpath("atomic.txt")));
  assert_int_equal(count_dir_entries(), before + 1);
  /* Abort: the previous content stays, no temp file is left. */
  assert_int_equal(ph_afile_open(&f, tpath("atomic.txt"), &err), PH_OK);
  ph_afile_write(&f, "partial", 7);
  ph_afile_abort(&f);
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("atomic.txt"), &buf, &len, &err), PH_OK);
  assert_string_equal((char *)buf, "hello");
  free(buf);
  assert_int_equal(count_dir_entries(), before + 1);
  /* A directory that does not exist: a clear error, nothing created. */
  assert_int_equal(ph_write_file_atomic(tpath("nodir/x.txt"), "x", 1, &err),
                   PH_ERR_IO);
  assert_non_null(strstr(err.msg, "nodir/x.txt"));
  assert_int_equal(count_dir_entries(), before + 1);
  /* mkdir -p */
  ph_error_clear(&err);
  assert_int_equal(ph_mkdir_p(tpath("d1/d2/d3"), &err), PH_OK);
  assert_true(ph_is_dir(tpath("d1/d2/d3")));
  assert_int_equal(ph_mkdir_p(tpath("d1/d2/d3"), &err), PH_OK);
  assert_int_equal(ph_mkdir_p(tpath("atomic.txt"), &err), PH_ERR_IO);
}

/* "-" writes to standard output directly (no temporary file, no rename). */
static void test_afile_stdout(void **state) {
  (void)state;
  ph_error err = {0};
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  assert_true(saved >= 0);
  assert_non_null(freopen(tpath("stdout.txt"), "w", stdout));
  size_t before = count_dir_entries();
  assert_int_equal(ph_write_file_atomic("-", "to stdout", 9, &err), PH_OK);
  assert_int_equal(count_dir_entries(), before);
  fflush(stdout);
  assert_true(dup2(saved, STDOUT_FILENO) >= 0);
  close(saved);
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("stdout.txt"), &buf, &len, &err), PH_OK);
  assert_string_equal((char *)buf, "to stdout");
  free(buf);
}

/* A symlink, FIFO or directory at the target is refused and left alone. */
static void test_afile_refuses_special(void **state) {
  (void)state;
  ph_error err = {0};
  assert_int_equal(ph_write_file_atomic(tpath("victim"), "keep", 4, &err),
                   PH_OK);
  assert_int_equal(symlink(tpath("victim"), tpath("link")), 0);
  assert_int_equal(mkfifo(tpath("fifo"), 0600), 0);
  assert_int_equal(ph_mkdir_p(tpath("adir"), &err), PH_OK);
  const char *names[] = {"link", "fifo", "adir"};
  const char *what[] = {"symbolic link", "FIFO", "directory"};
  for (int i = 0; i < 3; i++) {
    ph_error_clear(&err);
    size_t before = count_dir_entries();
    assert_int_equal(ph_write_file_atomic(tpath(names[i]), "x", 1, &err),
                     PH_ERR_IO);
    assert_non_null(strstr(err.msg, what[i]));
    assert_int_equal(count_dir_entries(), before); /* no temporary left */
  }
  struct stat st;
  assert_int_equal(lstat(tpath("link"), &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_int_equal(lstat(tpath("fifo"), &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("victim"), &buf, &len, &err), PH_OK);
  assert_string_equal((char *)buf, "keep");
  free(buf);
  /* The old predictable temporary name, planted as a symlink: ignored. */
  char planted[600];
  snprintf(planted, sizeof planted, "%s/.new.txt.tmp.%ld", tmpdir,
           (long)getpid());
  assert_int_equal(symlink(tpath("victim"), planted), 0);
  assert_int_equal(ph_write_file_atomic(tpath("new.txt"), "new", 3, &err),
                   PH_OK);
  assert_int_equal(ph_read_file(tpath("victim"), &buf, &len, &err), PH_OK);
  assert_string_equal((char *)buf, "keep");
  free(buf);
}

/* Error messages are one printable line: controls, DEL, C1 controls and
 * invalid UTF-8 are escaped; valid UTF-8 is kept; nothing is cut in half. */
static void test_error_escaping(void **state) {
  (void)state;
  ph_error err = {0};
  ph_error_set(&err, PH_ERR_IO, "%s: bad", "a\nb\033[31m\x7f\xff\xc2\x85α");
  assert_string_equal(err.msg, "a\\x0ab\\x1b[31m\\x7f\\xff\\xc2\\x85α: bad");
  ph_error_prefix(&err, "in %s: ", "x\ty");
  assert_string_equal(err.msg,
                      "in x\\x09y: a\\x0ab\\x1b[31m\\x7f\\xff\\xc2\\x85α: bad");
  for (const char *p = err.msg; *p; p++)
    assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
  /* Truncation keeps whole escapes: 7 bytes of room hold one escape. */
  char small[7];
  assert_int_equal(ph_escape_printable(small, sizeof small, "\n\n"), 4);
  assert_string_equal(small, "\\x0a");
  assert_int_equal(ph_escape_printable(small, 3, "α\n"), 2);
  assert_string_equal(small, "α");
  /* Overlong encoding of '/' and a lone surrogate are not valid UTF-8. */
  assert_int_equal(ph_escape_printable(small, sizeof small, "\xc0\xaf"), 4);
  assert_string_equal(small, "\\xc0");
}

/* A write that fails at the device (disk full) must leave no file. */
static void test_afile_full_device(void **state) {
  (void)state;
  if (access("/dev/full", W_OK) != 0) {
    skip();
    return;
  }
  /* /dev/full is not a directory we can create temps in, so emulate by
   * writing through a FILE* that fails: open the afile, then swap its
   * stream for /dev/full. */
  ph_error err = {0};
  ph_afile f;
  assert_int_equal(ph_afile_open(&f, tpath("full.bin"), &err), PH_OK);
  fclose(f.fp);
  f.fp = fopen("/dev/full", "wb");
  assert_non_null(f.fp);
  static char big[1 << 16];
  ph_afile_write(&f, big, sizeof big);
  assert_int_equal(ph_afile_commit(&f, &err), PH_ERR_IO);
  assert_false(ph_path_exists(tpath("full.bin")));
}

/* ---- checkpoints ------------------------------------------------------------
 */

static void test_ckpt(void **state) {
  (void)state;
  ph_error err = {0};
  ph_ckpt *ck = NULL;
  assert_int_equal(ph_ckpt_create(&ck, &err), PH_OK);
  double th[4] = {1, -2, NAN, 1e-300};
  uint64_t st[3] = {42, 7, UINT64_MAX};
  assert_int_equal(ph_ckpt_put_f64(ck, "theta", th, 4, &err), PH_OK);
  assert_int_equal(ph_ckpt_put_u64(ck, "rng", st, 3, &err), PH_OK);
  assert_int_equal(ph_ckpt_put_str(ck, "model", "mlp:64-64:tanh", &err), PH_OK);
  assert_int_equal(ph_ckpt_put_str(ck, "model", "mlp:8:relu", &err), PH_OK);
  assert_int_equal(ph_ckpt_write(ck, tpath("m.ckpt"), &err), PH_OK);
  ph_ckpt_free(ck);

  assert_int_equal(ph_ckpt_read(tpath("m.ckpt"), &ck, &err), PH_OK);
  size_t n;
  const double *t = ph_ckpt_get_f64(ck, "theta", &n);
  assert_non_null(t);
  assert_int_equal(n, 4);
  assert_memory_equal(t, th, sizeof th); /* bit for bit, NaN included */
  const uint64_t *u;
  assert_int_equal(ph_ckpt_require_u64(ck, "rng", 3, &u, NULL, &err), PH_OK);
  assert_true(u[2] == UINT64_MAX);
  assert_string_equal(ph_ckpt_get_str(ck, "model"), "mlp:8:relu");
  assert_int_equal(ph_ckpt_require_f64(ck, "theta", 5, &t, NULL, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "expected 5"));
  ph_error_clear(&err);
  assert_int_equal(ph_ckpt_require_str(ck, "optim.m", NULL, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "missing section \"optim.m\""));
  ph_ckpt_free(ck);

  /* Every single-byte corruption and every truncation is rejected. */
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(tpath("m.ckpt"), &buf, &len, &err), PH_OK);
  for (size_t i = 0; i < len; i++) {
    buf[i] ^= 0x10;
    ph_error_clear(&err);
    assert_int_not_equal(ph_ckpt_parse(buf, len, "c.ckpt", &ck, &err), PH_OK);
    assert_null(ck);
    assert_non_null(strstr(err.msg, "c.ckpt"));
    buf[i] ^= 0x10;
  }
  for (size_t cut = 0; cut < len; cut++) {
    ph_error_clear(&err);
    assert_int_not_equal(ph_ckpt_parse(buf, cut, "c.ckpt", &ck, &err), PH_OK);
    assert_null(ck);
  }
  free(buf);
}

/* ---- gzip ---------------------------------------------------------------- */

static void test_gzip(void **state) {
  (void)state;
  ph_error err = {0};
  char text[5000];
  for (int i = 0; i < 4999; i++) text[i] = (char)('a' + (i * 7) % 26);
  text[4999] = '\0';
  assert_int_equal(ph_gz_write_file(tpath("t.gz"), text, 4999, &err), PH_OK);
  unsigned char *out;
  size_t len;
  assert_int_equal(ph_gz_read_file(tpath("t.gz"), &out, &len, &err), PH_OK);
  assert_int_equal(len, 4999);
  assert_memory_equal(out, text, 4999);
  free(out);
  /* Truncated stream: an error naming the file. */
  unsigned char *raw;
  size_t raw_len;
  assert_int_equal(ph_read_file(tpath("t.gz"), &raw, &raw_len, &err), PH_OK);
  assert_int_equal(
      ph_write_file_atomic(tpath("cut.gz"), raw, raw_len / 2, &err), PH_OK);
  assert_int_equal(ph_gz_read_file(tpath("cut.gz"), &out, &len, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "cut.gz"));
  free(raw);
  /* Plain files pass through. */
  assert_int_equal(ph_write_file_atomic(tpath("p.txt"), "abc", 3, &err), PH_OK);
  assert_int_equal(ph_gz_read_file(tpath("p.txt"), &out, &len, &err), PH_OK);
  assert_int_equal(len, 3);
  free(out);
  /* ph_gz_decode, the in-memory half: gzip inflated, plain passed through,
   * and under a data cap of 1000 bytes both a gzip stream inflating to 4999
   * and a plain buffer of 1001 bytes refused with the cap's message. */
  assert_int_equal(ph_read_file(tpath("t.gz"), &raw, &raw_len, &err), PH_OK);
  unsigned char *copy = malloc(raw_len + 1);
  assert_non_null(copy);
  memcpy(copy, raw, raw_len + 1);
  assert_int_equal(ph_gz_decode(raw, raw_len, "t.gz", &out, &len, &err), PH_OK);
  assert_int_equal(len, 4999);
  assert_memory_equal(out, text, 4999);
  free(out);
  size_t old_cap = ph_input_cap(PH_INPUT_DATA);
  ph_input_cap_set(PH_INPUT_DATA, 1000);
  err = (ph_error){0}; /* the first error set is kept */
  assert_int_equal(ph_gz_decode(copy, raw_len, "t.gz", &out, &len, &err),
                   PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "input cap of 1000 bytes"));
  unsigned char *plain = malloc(1002);
  assert_non_null(plain);
  memset(plain, 'x', 1001);
  plain[1001] = '\0';
  err = (ph_error){0};
  assert_int_equal(ph_gz_decode(plain, 1001, "p", &out, &len, &err), PH_ERR_IO);
  assert_non_null(strstr(err.msg, "input cap of 1000 bytes"));
  plain = malloc(1001);
  assert_non_null(plain);
  memset(plain, 'x', 1000);
  plain[1000] = '\0';
  assert_int_equal(ph_gz_decode(plain, 1000, "p", &out, &len, &err), PH_OK);
  assert_int_equal(len, 1000);
  free(out);
  ph_input_cap_set(PH_INPUT_DATA, old_cap);
  /* CRC-32 of "123456789" is the standard check value 0xCBF43926. */
  assert_true(ph_crc32(0, "123456789", 9) == 0xCBF43926u);
}

/* ph_pool: every run calls fn once on every thread and returns only after
 * all of them, with their writes visible. Each thread stamps the run's
 * number into its own slot and adds the slot to a shared total through
 * an atomic; a run that returned early, skipped a thread or ran one twice
 * leaves a stale stamp or a wrong total. Hundreds of back-to-back runs
 * exercise both hand-overs (spinning and asleep); a lost wake-up hangs
 * the test into its timeout. */
typedef struct {
  size_t run, stamp[8];
  long total;
} pool_probe;

static void pool_fn(void *arg, size_t t) {
  pool_probe *p = arg;
  p->stamp[t] = p->run;
  __atomic_add_fetch(&p->total, (long)t + 1, __ATOMIC_RELAXED);
}

static void test_pool(void **state) {
  (void)state;
  ph_error err = {0};
  pool_probe p = {0};
  ph_pool_run(NULL, pool_fn, &p); /* a NULL pool is a team of one */
  assert_int_equal(p.total, 1);
  assert_int_equal(ph_pool_threads(NULL), 1);
  for (size_t T = 1; T <= 4; T++) {
    ph_pool *pool = NULL;
    assert_int_equal(ph_pool_create(T, &pool, &err), PH_OK);
    assert_int_equal(ph_pool_threads(pool), T);
    memset(&p, 0, sizeof p);
    long per_run = (long)(T * (T + 1) / 2);
    for (size_t r = 1; r <= 400; r++) {
      p.run = r;
      ph_pool_run(pool, pool_fn, &p);
      for (size_t t = 0; t < T; t++) assert_int_equal(p.stamp[t], r);
      assert_int_equal(p.total, per_run * (long)r);
      if (r % 100 == 0) usleep(2000); /* let the workers fall asleep */
    }
    for (size_t t = T; t < 8; t++) assert_int_equal(p.stamp[t], 0);
    ph_pool_free(pool);
  }
  ph_pool_free(NULL);
}

static void test_alloc_overflow(void **state) {
  (void)state;
  ph_error err = {0};
  void *p = ph_malloc(SIZE_MAX / 2, 4, "huge", &err);
  assert_null(p);
  assert_int_equal(err.code, PH_ERR_NOMEM);
  assert_non_null(strstr(err.msg, "huge"));
  /* ph_malloc_huge: the same overflow check; a large buffer starts on a
   * 2 MB boundary (where a huge page can back it) and is writable to its
   * end; a small one is an ordinary allocation */
  err = (ph_error){0};
  assert_null(ph_malloc_huge(SIZE_MAX / 2, 4, "huge basis", &err));
  assert_int_equal(err.code, PH_ERR_NOMEM);
  assert_non_null(strstr(err.msg, "huge basis"));
  size_t n = PH_HUGE_MIN_BYTES / sizeof(double) + 3;
  double *b = ph_malloc_huge(n, sizeof *b, "basis", &err);
  assert_non_null(b);
  assert_int_equal((uintptr_t)b % ((uintptr_t)2 << 20), 0);
  for (size_t i = 0; i < n; i++) b[i] = (double)i;
  assert_true(b[n - 1] == (double)(n - 1));
  ph_free(b);
  char *c = ph_malloc_huge(3, 1, "small", &err);
  assert_non_null(c);
  memcpy(c, "ab", 3);
  ph_free(c);
}

/* ph_calloc_lines and ph_malloc_lines: each buffer starts on a line,
 * ph_calloc_lines' zeroed to its end even where the heap hands back dirty
 * memory (freed dirty just before), for sizes over a few lines and large
 * ones (mapped). The words before the buffer say how ph_free_lines frees
 * it: below PH_LINES_MMAP_BYTES what malloc returned, 8 to 64 bytes
 * before the buffer, whose allocation holds the buffer to its end
 * (malloc_usable_size on glibc); from there on the mapping's address with
 * the low bit set, one line before the buffer, and its length. Under ASan
 * any overrun or wrong free fails too. */
static void test_alloc_lines(void **state) {
  (void)state;
  ph_error err = {0};
  size_t sizes[] = {0,
                    1,
                    8,
                    56,
                    64,
                    200,
                    256,
                    1000,
                    4096,
                    PH_LINES_MMAP_BYTES - 8,
                    PH_LINES_MMAP_BYTES,
                    (size_t)1 << 21};
  for (size_t r = 0; r < 2; r++)
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      size_t bytes = sizes[k] + 8 * r;
      unsigned char *z = ph_calloc_lines(bytes, 1, "zeroed", &err);
      unsigned char *m = ph_malloc_lines(bytes, 1, "plain", &err);
      assert_non_null(z);
      assert_non_null(m);
      for (unsigned char *q = z; q; q = q == z ? m : NULL) {
        assert_int_equal((uintptr_t)q % PH_LINE_BYTES, 0);
        uintptr_t w;
        memcpy(&w, q - sizeof w, sizeof w);
        unsigned char *base = (unsigned char *)(w & ~(uintptr_t)1);
        if (bytes < PH_LINES_MMAP_BYTES) {
          assert_int_equal(w & 1, 0);
          assert_true(q - base >= (ptrdiff_t)sizeof w &&
                      q - base <= (ptrdiff_t)PH_LINE_BYTES);
#ifdef __GLIBC__
          assert_true(malloc_usable_size(base) >= (size_t)(q - base) + bytes);
#endif
        } else {
          size_t len;
          memcpy(&len, q - 2 * sizeof w, sizeof len);
          assert_int_equal(w & 1, 1);
          assert_true(q - base == (ptrdiff_t)PH_LINE_BYTES);
          assert_int_equal((uintptr_t)base % (uintptr_t)sysconf(_SC_PAGESIZE),
                           0);
          assert_true(len == bytes + PH_LINE_BYTES);
        }
      }
      for (size_t i = 0; i < bytes; i++) assert_int_equal(z[i], 0);
      memset(z, 0xff, bytes); /* freed dirty: the next calloc must zero */
      memset(m, 0xff, bytes);
      ph_free_lines(z);
      ph_free_lines(m);
    }
  ph_free_lines(NULL);
  assert_null(ph_calloc_lines(SIZE_MAX / 2, 4, "huge", &err));
  assert_int_equal(err.code, PH_ERR_NOMEM);
  err = (ph_error){0};
  assert_null(ph_malloc_lines(SIZE_MAX - 8, 1, "edge", &err));
  assert_int_equal(err.code, PH_ERR_NOMEM);
}

/* Pages of [p, p + bytes) that are in memory (mincore). */
static size_t resident_pages(const void *p, size_t bytes, size_t *pages) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
  size_t len = (uintptr_t)p + bytes - a, n = (len + pg - 1) / pg, in = 0;
  unsigned char *v = malloc(n);
  assert_non_null(v);
  assert_int_equal(mincore((void *)a, len, v), 0);
  for (size_t i = 0; i < n; i++) in += v[i] & 1;
  free(v);
  *pages = n;
  return in;
}

/* A large ph_calloc_lines buffer leaves its pages untouched even after the
 * heap has held, and freed, dirty memory of that size: glibc then serves
 * calloc from the heap (its mmap threshold rose when the larger mapped
 * chunk was freed) and memsets it, every page; the 2-thread grid's clone
 * paid that (docs/performance.md, tenth session). At most the first page
 * (the words before the buffer) and, where transparent huge pages are
 * always on, the huge page around it may be in memory: under half of
 * 8 MB. */
static void test_alloc_lines_untouched(void **state) {
  (void)state;
  ph_error err = {0};
  size_t bytes = (size_t)8 << 20;
  char *big = malloc(2 * bytes), *dirty = malloc(bytes);
  assert_non_null(big);
  assert_non_null(dirty);
  memset(big, 1, 2 * bytes);
  memset(dirty, 1, bytes);
  free(big);   /* a mapped chunk freed: glibc's threshold rises past bytes */
  free(dirty); /* a heap chunk of bytes, dirty, for calloc to reuse */
  dirty = malloc(bytes);
  assert_non_null(dirty);
  memset(dirty, 1, bytes);
  free(dirty);
  double *z = ph_calloc_lines(bytes / sizeof(double), sizeof(double),
                              "untouched", &err);
  assert_non_null(z);
  size_t pages, in = resident_pages(z, bytes, &pages);
  if (2 * in >= pages)
    fail_msg("%zu of %zu pages of a fresh zeroed buffer in memory", in, pages);
  assert_true(z[0] == 0.0 && z[bytes / sizeof(double) - 1] == 0.0);
  ph_free_lines(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_kat),
      cmocka_unit_test(test_rng_counter_based),
      cmocka_unit_test(test_rng_moments),
      cmocka_unit_test(test_rng_permutation_and_below),
      cmocka_unit_test(test_vec),
      cmocka_unit_test(test_vec_all_finite),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_cblas_provider),
      cmocka_unit_test(test_npy_roundtrip),
      cmocka_unit_test(test_npy_dtypes_and_errors),
      cmocka_unit_test(test_npy_numpy_interop),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_csv),
      cmocka_unit_test(test_csv_reader),
      cmocka_unit_test(test_afile),
      cmocka_unit_test(test_afile_full_device),
      cmocka_unit_test(test_afile_stdout),
      cmocka_unit_test(test_error_escaping),
      cmocka_unit_test(test_afile_refuses_special),
      cmocka_unit_test(test_ckpt),
      cmocka_unit_test(test_gzip),
      cmocka_unit_test(test_alloc_overflow),
      cmocka_unit_test(test_alloc_lines),
      cmocka_unit_test(test_alloc_lines_untouched),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
