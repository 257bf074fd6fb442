/* test_data.c: every loader (shapes, classes, reproducible splits and
 * checksums), the batcher, and every bad-input case named in docs/data.md. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/afile.h"
#include "core/zio.h"
#include "data/dataset.h"

#define PH_TEST_TMP_PREFIX "/tmp/ph_data_test"
#include "../common/ph_test_tmp.h"

static ph_dataset *load_ok(const char *spec, uint64_t seed) {
  ph_data_options o = ph_data_options_default();
  o.seed = seed;
  ph_error err = {0};
  ph_dataset *d = NULL;
  ph_status s = ph_dataset_load(spec, &o, &d, &err);
  if (s != PH_OK) fprintf(stderr, "%s: %s\n", spec, err.msg);
  assert_int_equal(s, PH_OK);
  return d;
}

/* Expect failure with `code` and a message containing `needle`. */
static void load_fails(const char *spec, ph_status code, const char *needle) {
  ph_data_options o = ph_data_options_default();
  ph_error err = {0};
  ph_dataset *d = NULL;
  ph_status s = ph_dataset_load(spec, &o, &d, &err);
  if (s != code || !strstr(err.msg, needle))
    fprintf(stderr, "%s: got %d '%s', want %d containing '%s'\n", spec, s,
            err.msg, code, needle);
  assert_int_equal(s, code);
  assert_non_null(strstr(err.msg, needle));
  assert_null(d);
  assert_null(strchr(err.msg, '\n')); /* one line */
}

static void check_labels(const ph_dataset *d) {
  size_t counts[1000] = {0};
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < d->n[s] * d->n_targets; i++) {
      int32_t y = d->y[s][i];
      assert_true(y >= -1 && y < (int32_t)d->n_classes);
      if (y >= 0 && y < 1000) counts[y]++;
    }
  if (d->task == PH_TASK_CLASSIFY)
    for (size_t c = 0; c < d->n_classes; c++) assert_true(counts[c] > 0);
}

static void test_digits(void **state) {
  (void)state;
  ph_dataset *a = load_ok("digits", 0), *b = load_ok("digits", 0),
             *c = load_ok("digits", 1);
  assert_int_equal(a->n[0] + a->n[1], 1797);
  assert_int_equal(a->in_size, 64);
  assert_int_equal(a->in_ndim, 3);
  assert_int_equal(a->n_classes, 10);
  check_labels(a);
  /* Standardised with the train split's global statistics: mean 0, sd 1. */
  double m = 0, v = 0;
  size_t N = a->n[0] * 64;
  for (size_t i = 0; i < N; i++) m += a->x[0][i];
  m /= (double)N;
  for (size_t i = 0; i < N; i++) v += (a->x[0][i] - m) * (a->x[0][i] - m);
  assert_true(fabs(m) < 1e-12);
  assert_true(fabs(v / (double)N - 1) < 1e-12);
  /* Same seed, same data; another seed, another split of the same pool. */
  assert_true(a->checksum == b->checksum);
  assert_memory_equal(a->x[0], b->x[0], N * sizeof(double));
  assert_true(a->checksum != c->checksum);
  ph_dataset_free(a);
  ph_dataset_free(b);
  ph_dataset_free(c);
}

static void test_caps(void **state) {
  (void)state;
  ph_data_options o = ph_data_options_default();
  ph_error err = {0};
  ph_dataset *full = load_ok("digits", 0), *cap;
  o.max_train = 100;
  o.max_test = 7;
  assert_int_equal(ph_dataset_load("digits", &o, &cap, &err), PH_OK);
  assert_int_equal(cap->n[0], 100);
  assert_int_equal(cap->n[1], 7);
  /* the first N examples after preprocessing */
  assert_memory_equal(cap->x[0], full->x[0], 100 * 64 * sizeof(double));
  assert_memory_equal(cap->y[1], full->y[1], 7 * sizeof(int32_t));
  ph_dataset_free(full);
  ph_dataset_free(cap);
}

static void test_text(void **state) {
  (void)state;
  ph_dataset *d = load_ok("text", 0);
  assert_int_equal(d->task, PH_TASK_SEQUENCE);
  assert_int_equal(d->in_size, 64);
  assert_true(d->n_classes > 60 && d->n_classes < 200);
  /* target at t is the input at t + 1 within a window */
  for (size_t t = 0; t + 1 < 64; t++)
    assert_true(d->y[0][t] == (int32_t)d->x[0][t + 1]);
  check_labels(d);
  ph_dataset_free(d);
  /* a file of our own, with multibyte characters */
  const char *txt = "héllo wörld, héllo wörld! ";
  char big[4096] = "";
  for (int i = 0; i < 40; i++) strcat(big, txt);
  ph_error err = {0};
  assert_int_equal(ph_write_file_atomic(tpath("t.txt"), big, strlen(big), &err),
                   PH_OK);
  char spec[600];
  snprintf(spec, sizeof spec, "text:%s,len=8", tpath("t.txt"));
  d = load_ok(spec, 0);
  assert_int_equal(d->in_size, 8);
  assert_int_equal(d->n_classes, 11); /* h é l o space w ö r d , ! */
  ph_dataset_free(d);
}

static void test_synthetic(void **state) {
  (void)state;
  const char *specs[] = {"blobs:n=300,k=4,d=3", "spirals:n=200",
                         "teacher:n=100,d=5",   "modadd:11",
                         "copy:n=50,len=3",     "reverse:n=50,len=3"};
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    ph_dataset *a = load_ok(specs[i], 5), *b = load_ok(specs[i], 5),
               *c = load_ok(specs[i], 6);
    assert_true(a->checksum == b->checksum);
    assert_true(a->checksum != c->checksum);
    if (a->task != PH_TASK_REGRESS) check_labels(a);
    ph_dataset_free(a);
    ph_dataset_free(b);
    ph_dataset_free(c);
  }
  ph_dataset *m = load_ok("modadd:11", 0);
  assert_int_equal(m->n[0] + m->n[1], 121);
  for (size_t i = 0; i < m->n[0]; i++) {
    const double *x = m->x[0] + 3 * i;
    const int32_t *y = m->y[0] + 3 * i;
    assert_true(y[0] == -1 && y[1] == -1 && x[2] == 11.0);
    assert_int_equal(y[2], ((int)x[0] + (int)x[1]) % 11);
  }
  ph_dataset_free(m);
  ph_dataset *r = load_ok("reverse:n=20,len=3", 0);
  /* sequence a0 a1 a2 SEP a2 a1 a0: input positions 3..5 predict a2 a1 a0 */
  for (size_t i = 0; i < r->n[0]; i++) {
    const double *x = r->x[0] + 6 * i;
    const int32_t *y = r->y[0] + 6 * i;
    assert_true(x[3] == 10.0);
    assert_int_equal(y[3], (int32_t)x[2]);
    assert_int_equal(y[4], (int32_t)x[1]);
    assert_int_equal(y[5], (int32_t)x[0]);
  }
  ph_dataset_free(r);
}

/* Synthetic sets obey the data cap: what a generator allocates (8 bytes
 * per input value, 4 per label or token target, 8 per regression target,
 * plus the blob centres or teacher weights, as synthetic.c documents) must
 * fit, checked before allocating. Each spec is tried with the cap at its
 * exact size (loads) and one byte less (refused, naming the size), so an
 * accounting that is off by anything fails. */
static void test_synthetic_cap(void **state) {
  (void)state;
  const struct {
    const char *spec;
    size_t bytes;
  } cases[] = {
      {"blobs:n=100,k=3,d=2", 100 * (2 * 8 + 4) + 3 * 2 * 8},
      {"spirals:n=50", 50 * (2 * 8 + 4)},
      {"teacher:n=20,d=3,h=4,out=2",
       20 * (3 + 2) * 8 + (4 * 3 + 2 * 4 + 4) * 8},
      {"modadd:5", 25 * 3 * (8 + 4)},
      {"copy:n=10,len=2", 10 * 4 * (8 + 4)},
      {"reverse:n=10,len=2", 10 * 4 * (8 + 4)},
  };
  size_t saved = ph_input_cap(PH_INPUT_DATA);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "generates %zu bytes", cases[i].bytes);
    ph_input_cap_set(PH_INPUT_DATA, cases[i].bytes);
    ph_dataset_free(load_ok(cases[i].spec, 0));
    ph_input_cap_set(PH_INPUT_DATA, cases[i].bytes - 1);
    load_fails(cases[i].spec, PH_ERR_ARG, want);
  }
  ph_input_cap_set(PH_INPUT_DATA, saved);
  /* The default cap (1 GiB) refuses 8 TB at once instead of trying. */
  load_fails("blobs:n=10000000,d=100000", PH_ERR_ARG,
             "more than the input cap of 1073741824 bytes");
}

static void test_fashion_mnist(void **state) {
  (void)state;
  if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             R_OK)) {
    skip();
    return;
  }
  ph_data_options o = ph_data_options_default();
  o.max_train = 500;
  ph_error err = {0};
  ph_dataset *d;
  assert_int_equal(ph_dataset_load("fashion-mnist", &o, &d, &err), PH_OK);
  assert_int_equal(d->n[0], 500);
  assert_int_equal(d->n[1], 10000);
  assert_int_equal(d->in_size, 784);
  assert_int_equal(d->n_classes, 10);
  check_labels(d);
  ph_dataset_free(d);
}

/* --- IDX fixtures --- */
static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void write_idx(const char *dir, const char *prefix, uint32_t img_magic,
                      uint32_t n_img, uint32_t n_lab, int gz) {
  unsigned char img[16 + 5 * 4 * 4], lab[8 + 5];
  put_be32(img, img_magic);
  put_be32(img + 4, n_img);
  put_be32(img + 8, 4);
  put_be32(img + 12, 4);
  for (size_t i = 0; i < 5 * 16; i++) img[16 + i] = (unsigned char)(i * 3);
  put_be32(lab, 0x801);
  put_be32(lab + 4, n_lab);
  for (int i = 0; i < 5; i++) lab[8 + i] = (unsigned char)(i % 3);
  char p[600];
  ph_error err = {0};
  snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, prefix,
           gz ? ".gz" : "");
  if (gz)
    assert_int_equal(ph_gz_write_file(p, img, 16 + n_img * 16, &err), PH_OK);
  else
    assert_int_equal(ph_write_file_atomic(p, img, 16 + n_img * 16, &err),
                     PH_OK);
  snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
  assert_int_equal(
      ph_write_file_atomic(p, lab, 8 + (n_lab < 5 ? n_lab : 5), &err), PH_OK);
}

static void test_idx_and_errors(void **state) {
  (void)state;
  char dir[600], spec[700];
  snprintf(dir, sizeof dir, "%s/idx_ok", tmpdir);
  ph_error err = {0};
  assert_int_equal(ph_mkdir_p(dir, &err), PH_OK);
  write_idx(dir, "train", 0x803, 5, 5, 1);
  write_idx(dir, "t10k", 0x803, 3, 3, 0);
  snprintf(spec, sizeof spec, "idx:%s", dir);
  ph_dataset *d = load_ok(spec, 0);
  assert_int_equal(d->n[0], 5);
  assert_int_equal(d->n[1], 3);
  assert_int_equal(d->n_classes, 3);
  ph_dataset_free(d);

  /* wrong magic */
  snprintf(dir, sizeof dir, "%s/idx_magic", tmpdir);
  ph_mkdir_p(dir, &err);
  write_idx(dir, "train", 0x802, 5, 5, 0);
  write_idx(dir, "t10k", 0x803, 3, 3, 0);
  snprintf(spec, sizeof spec, "idx:%s", dir);
  load_fails(spec, PH_ERR_FORMAT, "not an IDX image file");
  /* label count mismatch */
  snprintf(dir, sizeof dir, "%s/idx_count", tmpdir);
  ph_mkdir_p(dir, &err);
  write_idx(dir, "train", 0x803, 5, 4, 0);
  write_idx(dir, "t10k", 0x803, 3, 3, 0);
  snprintf(spec, sizeof spec, "idx:%s", dir);
  load_fails(spec, PH_ERR_FORMAT, "4 labels");
  /* truncated gzip */
  snprintf(dir, sizeof dir, "%s/idx_gz", tmpdir);
  ph_mkdir_p(dir, &err);
  write_idx(dir, "train", 0x803, 5, 5, 1);
  write_idx(dir, "t10k", 0x803, 3, 3, 0);
  char gz[700];
  snprintf(gz, sizeof gz, "%s/train-images-idx3-ubyte.gz", dir);
  unsigned char *buf;
  size_t len;
  assert_int_equal(ph_read_file(gz, &buf, &len, &err), PH_OK);
  assert_int_equal(ph_write_file_atomic(gz, buf, len - 12, &err), PH_OK);
  free(buf);
  snprintf(spec, sizeof spec, "idx:%s", dir);
  load_fails(spec, PH_ERR_FORMAT,
             "train-images-idx3-ubyte.gz: corrupt or truncated gzip");
  /* missing directory */
  load_fails("fashion-mnist:/nonexistent/dir", PH_ERR_IO,
             "/nonexistent/dir/train-images");
}

static void test_csv_and_errors(void **state) {
  (void)state;
  ph_error err = {0};
  const char *ok = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,1\n";
  assert_int_equal(ph_write_file_atomic(tpath("ok.csv"), ok, strlen(ok), &err),
                   PH_OK);
  char spec[700];
  snprintf(spec, sizeof spec, "csv:%s", tpath("ok.csv"));
  ph_dataset *d = load_ok(spec, 0);
  assert_int_equal(d->in_size, 2);
  assert_int_equal(d->n[0] + d->n[1], 5);
  assert_int_equal(d->n_classes, 2);
  ph_dataset_free(d);

  const char *ragged = "1,2,0\n3,4,1\n5,0\n";
  assert_int_equal(
      ph_write_file_atomic(tpath("r.csv"), ragged, strlen(ragged), &err),
      PH_OK);
  snprintf(spec, sizeof spec, "csv:%s", tpath("r.csv"));
  load_fails(spec, PH_ERR_FORMAT, "r.csv:3: ragged row");
  const char *word = "1,2,0\n3,x,1\n";
  assert_int_equal(
      ph_write_file_atomic(tpath("w.csv"), word, strlen(word), &err), PH_OK);
  snprintf(spec, sizeof spec, "csv:%s", tpath("w.csv"));
  load_fails(spec, PH_ERR_FORMAT, "w.csv:2: field 2");
  const char *frac = "1,2,0.5\n3,4,1\n";
  assert_int_equal(
      ph_write_file_atomic(tpath("f.csv"), frac, strlen(frac), &err), PH_OK);
  snprintf(spec, sizeof spec, "csv:%s", tpath("f.csv"));
  load_fails(spec, PH_ERR_FORMAT, "not a class index");
  load_fails("csv:/no/such.csv", PH_ERR_IO, "/no/such.csv");
}

static void test_text_errors(void **state) {
  (void)state;
  ph_error err = {0};
  char bad[300];
  memset(bad, 'a', sizeof bad);
  bad[200] = (char)0xC3; /* lead byte followed by ASCII: invalid */
  assert_int_equal(
      ph_write_file_atomic(tpath("bad.txt"), bad, sizeof bad, &err), PH_OK);
  char spec[700];
  snprintf(spec, sizeof spec, "text:%s", tpath("bad.txt"));
  load_fails(spec, PH_ERR_FORMAT, "invalid UTF-8 at byte 200");
  const char overlong[] = "abc\xC0\xAF";
  assert_int_equal(ph_write_file_atomic(tpath("ol.txt"), overlong, 5, &err),
                   PH_OK);
  snprintf(spec, sizeof spec, "text:%s", tpath("ol.txt"));
  load_fails(spec, PH_ERR_FORMAT, "invalid UTF-8 at byte 3");
  load_fails("text:/no/such/file.txt", PH_ERR_IO, "/no/such/file.txt");
}

static size_t put_utf8(unsigned char *p, uint32_t c) {
  if (c < 0x80) return p[0] = (unsigned char)c, 1;
  if (c < 0x800)
    return p[0] = (unsigned char)(0xC0 | c >> 6),
           p[1] = (unsigned char)(0x80 | (c & 63)), 2;
  if (c < 0x10000)
    return p[0] = (unsigned char)(0xE0 | c >> 12),
           p[1] = (unsigned char)(0x80 | (c >> 6 & 63)),
           p[2] = (unsigned char)(0x80 | (c & 63)), 3;
  return p[0] = (unsigned char)(0xF0 | c >> 18),
         p[1] = (unsigned char)(0x80 | (c >> 12 & 63)),
         p[2] = (unsigned char)(0x80 | (c >> 6 & 63)),
         p[3] = (unsigned char)(0x80 | (c & 63)), 4;
}

static int cmp_u32_test(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Tokens are the code points numbered in increasing order over the whole
 * text (ASCII through a table, the rest by a sort in load_text.c): checked
 * against a plain sort of every code point, on a text mixing 1- to 4-byte
 * characters, including the extremes 0x7F, 0x80 and 0x10FFFF. */
static void test_text_vocabulary(void **state) {
  (void)state;
  enum { N = 3000, L = 7 };
  static const uint32_t pool[] = {'\n',   ' ',    'a',     'z',
                                  0x7F,   0x80,   0xE9,    0x3B1,
                                  0x20AC, 0x4E2D, 0x1F433, 0x10FFFF};
  uint32_t cps[N], sorted[N];
  unsigned char buf[4 * N];
  size_t len = 0;
  uint64_t r = 12345;
  for (int i = 0; i < N; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    cps[i] = pool[(r >> 33) % (sizeof pool / sizeof *pool)];
    len += put_utf8(buf + len, cps[i]);
  }
  memcpy(sorted, cps, sizeof cps);
  qsort(sorted, N, sizeof *sorted, cmp_u32_test);
  size_t V = 0;
  for (int i = 0; i < N; i++)
    if (i == 0 || sorted[i] != sorted[V - 1]) sorted[V++] = sorted[i];
  ph_error err = {0};
  assert_int_equal(ph_write_file_atomic(tpath("mix.txt"), buf, len, &err),
                   PH_OK);
  char spec[700];
  snprintf(spec, sizeof spec, "text:%s,len=%d", tpath("mix.txt"), L);
  ph_dataset *d = load_ok(spec, 0);
  assert_int_equal(d->n_classes, V);
  size_t n_test_chars = N / 10, base[2] = {0, N - n_test_chars};
  for (int sp = 0; sp < 2; sp++) {
    assert_true(d->n[sp] > 0);
    for (size_t i = 0; i < d->n[sp] * L; i++) {
      uint32_t *x =
          bsearch(&cps[base[sp] + i], sorted, V, sizeof *sorted, cmp_u32_test);
      uint32_t *y = bsearch(&cps[base[sp] + i + 1], sorted, V, sizeof *sorted,
                            cmp_u32_test);
      assert_true(d->x[sp][i] == (double)(x - sorted));
      assert_int_equal(d->y[sp][i], y - sorted);
    }
  }
  ph_dataset_free(d);
}

static void test_bad_specs(void **state) {
  (void)state;
  load_fails("nosuchdata", PH_ERR_ARG, "unknown data set 'nosuchdata'");
  load_fails("blobs:n=abc", PH_ERR_ARG, "n=abc");
  load_fails("blobs:n=1000,zz=3", PH_ERR_ARG, "unknown option 'zz'");
  load_fails("modadd:1", PH_ERR_ARG, "P must be");
  load_fails("", PH_ERR_ARG, "empty");
  load_fails("blobs:n=10,", PH_ERR_ARG, "trailing comma");
}

static void test_batcher(void **state) {
  (void)state;
  ph_error err = {0};
  ph_batcher b, c;
  assert_int_equal(ph_batcher_init(&b, PH_SPLIT_TRAIN, 10, 3, 9, &err), PH_OK);
  /* 3 batches per epoch (tail of 1 dropped), each epoch without repeats */
  for (int e = 0; e < 3; e++) {
    int seen[10] = {0};
    for (int k = 0; k < 3; k++) {
      ph_batch bt;
      ph_batcher_next(&b, &bt);
      assert_int_equal(bt.n, 3);
      for (size_t i = 0; i < 3; i++) assert_int_equal(seen[bt.idx[i]]++, 0);
    }
  }
  /* seek restores the same sequence */
  assert_int_equal(ph_batcher_init(&c, PH_SPLIT_TRAIN, 10, 3, 9, &err), PH_OK);
  ph_batcher_seek(&c, b.epoch, b.pos);
  ph_batch x, y;
  for (int k = 0; k < 5; k++) {
    ph_batcher_next(&b, &x);
    ph_batcher_next(&c, &y);
    assert_memory_equal(x.idx, y.idx, 3 * sizeof(size_t));
  }
  ph_batcher_free(&b);
  ph_batcher_free(&c);
  assert_int_equal(ph_batcher_init(&b, PH_SPLIT_TRAIN, 0, 3, 9, &err),
                   PH_ERR_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digits),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_synthetic),
      cmocka_unit_test(test_synthetic_cap),
      cmocka_unit_test(test_fashion_mnist),
      cmocka_unit_test(test_idx_and_errors),
      cmocka_unit_test(test_csv_and_errors),
      cmocka_unit_test(test_text_errors),
      cmocka_unit_test(test_text_vocabulary),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_batcher),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
