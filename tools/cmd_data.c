/* cmd_data.c: `pothole data info SPEC`: what a data set spec loads to. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/json.h"
#include "data/dataset.h"

#define CMD "data"

static const char ABOUT[] =
    "Load a data set and print JSON: name, spec, task, n_train, n_test,\n"
    "input_shape, n_classes (vocabulary size for token data), checksum\n"
    "(CRC-32 of the preprocessed data) and provenance.\n\n"
    "SPEC is one of:\n"
    "  digits                 UCI 8x8 digits, shipped (1,797 examples, 80/20 "
    "split)\n"
    "  fashion-mnist[:DIR]    IDX files (default "
    "/usr/share/datasets/fashion-mnist)\n"
    "  idx:DIR                IDX files named like MNIST's in DIR\n"
    "  csv:PATH               features..., label per row (header optional)\n"
    "  text[:PATH]            characters of a UTF-8 file (default "
    "Moby-Dick);\n"
    "                         option len=N (window, default 64)\n"
    "  blobs:n=1000,k=3,d=2,sd=1\n"
    "  spirals:n=1000,noise=0.2\n"
    "  teacher:n=1000,d=10,h=32,out=1,noise=0.1   (regression, MSE)\n"
    "  modadd:P[,frac=0.5]    (a + b) mod P, default P = 97\n"
    "  copy:n=2000,len=8,vocab=10   and  reverse:... (token sequences)";

int ph_cmd_data(int argc, char **argv) {
  ph_data_options o = ph_data_options_default();
  size_t cap = 0;
  const ph_opt opts[] = {
      PH_OPT_SEED(&o.seed),
      PH_OPT_N_ALL(&cap, "keep the first N examples of each split after\n"
                         "preprocessing"),
      {"len", "L", PH_OPT_SIZE, &o.seq_len, .lo = 2, .hi = 4096,
       .help = "token window for text"},
      {0}};
  /* `pothole data --help` and `pothole data info ...` share the table. */
  int info = argc >= 2 && strcmp(argv[1], "info") == 0;
  const ph_cli_spec spec = {info ? "data info" : CMD,
                            info ? "SPEC [--seed S] [--n N] [--len L]"
                                 : "info SPEC [--seed S] [--n N] [--len L]",
                            ABOUT,
                            opts,
                            1,
                            1};
  char **args;
  size_t nargs;
  if (!info) {
    int rc = ph_cli_help_only(&spec, argc, argv);
    if (rc >= 0) return rc;
    if (argc < 2 || argv[1][0] == '-')
      return ph_cli_usage(CMD, "expected 'info SPEC'");
    return ph_cli_usage(CMD, "unknown action '%s' (only 'info')", argv[1]);
  }
  int rc = ph_cli_parse(&spec, argc - 1, argv + 1, &args, &nargs);
  if (rc >= 0) return rc;
  o.max_train = o.max_test = cap;
  const char *spec_s = args[0];
  ph_error err = {0};
  ph_dataset *d;
  ph_status s = ph_dataset_load(spec_s, &o, &d, &err);
  /* A malformed spec is a usage error (exit 2) as in every other command
   * that takes --data; a missing or corrupt file is a runtime failure (1). */
  if (s != PH_OK) return ph_cli_fail("data info", s, &err);
  static const char *const tasks[] = {"classify", "sequence", "regress"};
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "name", d->name);
  cJSON_AddStringToObject(j, "spec", d->spec);
  cJSON_AddStringToObject(j, "task", tasks[d->task]);
  ph_json_add_number(j, "n_train", (double)d->n[0]);
  ph_json_add_number(j, "n_test", (double)d->n[1]);
  double shape[3];
  for (int i = 0; i < d->in_ndim; i++) shape[i] = (double)d->in_shape[i];
  cJSON_AddItemToObject(j, "input_shape",
                        ph_json_array(shape, (size_t)d->in_ndim));
  if (d->task == PH_TASK_REGRESS)
    ph_json_add_number(j, "n_outputs", (double)d->n_out);
  else if (d->task == PH_TASK_SEQUENCE)
    ph_json_add_number(j, "vocab", (double)d->n_classes);
  else
    ph_json_add_number(j, "n_classes", (double)d->n_classes);
  char crc[16];
  snprintf(crc, sizeof crc, "%08x", d->checksum);
  cJSON_AddStringToObject(j, "checksum", crc);
  ph_json_add_number(j, "seed", (double)o.seed);
  ph_json_add_number(j, "max_examples", (double)o.max_train);
  ph_json_add_number(j, "seq_len", (double)o.seq_len);
  cJSON_AddStringToObject(j, "provenance", d->provenance);
  ph_json_add_stamp(j);
  char *text = cJSON_Print(j);
  rc = 0;
  if (text) {
    printf("%s\n", text);
    cJSON_free(text);
  } else
    rc = ph_cli_fail(CMD, PH_ERR_NOMEM, NULL);
  cJSON_Delete(j);
  ph_dataset_free(d);
  return rc;
}
