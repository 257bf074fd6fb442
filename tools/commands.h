/* commands.h: every subcommand of `pothole`, one file each (cmd_NAME.c). */
#ifndef PH_TOOLS_COMMANDS_H
#define PH_TOOLS_COMMANDS_H

int ph_cmd_data(int argc, char **argv);
int ph_cmd_init(int argc, char **argv);
int ph_cmd_eval(int argc, char **argv);
int ph_cmd_export(int argc, char **argv);
int ph_cmd_check(int argc, char **argv);
int ph_cmd_bench(int argc, char **argv);
int ph_cmd_train(int argc, char **argv);
int ph_cmd_spectrum(int argc, char **argv);
int ph_cmd_sharpness(int argc, char **argv);
int ph_cmd_toy(int argc, char **argv);
int ph_cmd_slice(int argc, char **argv);
int ph_cmd_plot(int argc, char **argv);
int ph_cmd_demo(int argc, char **argv);
int ph_cmd_study(int argc, char **argv);
int ph_cmd_completion(int argc, char **argv);
int ph_cmd_import(int argc, char **argv);

#include <stddef.h>
#include <stdio.h>
/* The resolved defaults of `train --opt OPT` as "--name value" lines
 * (cmd_train.c); 0, or 1 when OPT is unknown or buf is too small. */
int ph_train_defaults_text(const char *opt, char *buf, size_t len);
/* pothole(1): the program's man page (pothole --help-man). */
void ph_cli_print_main_man(FILE *fp);

#endif
