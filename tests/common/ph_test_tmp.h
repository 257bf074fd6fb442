/* ph_test_tmp.h: a per-program temporary directory for cmocka tests.
 * Define PH_TEST_TMP_PREFIX ("/tmp/ph_core_test" …) before including; pass
 * setup_tmp/teardown_tmp to cmocka_run_group_tests and build paths inside
 * the directory with tpath (8 rotating buffers, so a few can be alive at
 * once). */
#ifndef PH_TEST_TMP_H
#define PH_TEST_TMP_H

#include <stdio.h>
#include <stdlib.h>

static char tmpdir[256];

static int setup_tmp(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "%s.XXXXXX", PH_TEST_TMP_PREFIX);
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

#endif
