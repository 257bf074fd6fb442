/* progress.c: terminal progress bar (see progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double ph_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ph_format_duration(char *buf, size_t len, double s) {
  if (s < 0 || s != s) {
    snprintf(buf, len, "--");
  } else if (s < 60) {
    snprintf(buf, len, "%.1fs", s);
  } else if (s < 3600) {
    snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
  } else {
    snprintf(buf, len, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
  }
}

void ph_progress_start(ph_progress *p, const char *label, size_t total,
                       int enabled) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  p->t_start = ph_now();
  p->enabled = enabled < 0 ? isatty(STDERR_FILENO) : enabled;
}

static void draw(ph_progress *p, double now) {
  double frac = p->total ? (double)p->done / (double)p->total : 0.0;
  if (frac > 1) frac = 1;
  int width = 24, filled = (int)(frac * width + 0.5);
  char bar[32];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  double el = now - p->t_start;
  double rate = el > 0 ? (double)p->done / el : 0;
  char eta[16], elapsed[16];
  ph_format_duration(elapsed, sizeof elapsed, el);
  ph_format_duration(eta, sizeof eta,
                     rate > 0 ? (double)(p->total - p->done) / rate : -1);
  fprintf(stderr, "\r\033[K%-14s [%s] %3.0f%% %zu/%zu %.1f/s %s left %s",
          p->label, bar, 100 * frac, p->done, p->total, rate, eta, p->extra);
  fflush(stderr);
}

void ph_progress_update(ph_progress *p, size_t done, const char *extra) {
  if (!p || !p->enabled) return;
  p->done = done;
  if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
  double now = ph_now();
  if (now - p->t_last_draw < 0.1 && done < p->total) return;
  p->t_last_draw = now;
  draw(p, now);
}

void ph_progress_finish(ph_progress *p) {
  if (!p || !p->enabled) return;
  p->done = p->total;
  draw(p, ph_now());
  fputc('\n', stderr);
}
