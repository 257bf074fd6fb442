/* load_text.c: character-level corpora. text (default data/moby-dick.txt.gz,
 * Moby-Dick, public domain) or text:PATH (any UTF-8 file, gzip or plain).
 * Tokens are Unicode code points, numbered in code-point order; the vocabulary
 * size is n_classes. Examples are non-overlapping windows: inputs are
 * seq_len characters, targets the next character at each position. The last
 * 10% of the text is the test split. Option: len=N (default seq_len 64). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/zio.h"
#include "data/data_int.h"

/* Decode UTF-8 strictly (no overlongs, surrogates or code points > 10FFFF). */
static ph_status decode_utf8(const unsigned char *s, size_t len,
                             const char *name, uint32_t **cps, size_t *n,
                             ph_error *err) {
  uint32_t *out = ph_malloc(len + 1, sizeof *out, name, err);
  if (!out) return PH_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    unsigned c = s[i];
    uint32_t cp;
    size_t extra;
    if (c < 0x80) {
      cp = c;
      extra = 0;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      extra = 2;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      extra = 3;
    } else
      goto bad;
    if (i + extra >= len + (extra == 0)) goto bad;
    for (size_t j = 1; j <= extra; j++) {
      if ((s[i + j] & 0xC0) != 0x80) goto bad;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      goto bad;
    out[k++] = cp;
    i += extra + 1;
    continue;
  bad:
    free(out);
    return ph_error_set(err, PH_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu",
                        name, i);
  }
  *cps = out;
  *n = k;
  return PH_OK;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The token number of code point c (see the vocabulary in ph_text_parse):
 * rank[c] - 1 for ASCII, else n_ascii + its index among the sorted other
 * code points. */
static size_t token(uint32_t c, const size_t *rank, size_t n_ascii,
                    const uint32_t *other, size_t n_other) {
  if (c < 128) return rank[c] - 1;
  const uint32_t *p = bsearch(&c, other, n_other, sizeof *other, cmp_u32);
  return n_ascii + (size_t)(p - other);
}

ph_status ph_text_parse(ph_dataset *d, const unsigned char *buf, size_t len,
                        const char *name, size_t L, ph_error *err) {
  uint32_t *cp = NULL, *vocab = NULL;
  size_t n = 0;
  ph_status st = decode_utf8(buf, len, name, &cp, &n, err);
  if (st != PH_OK) return st;
  size_t n_test_chars = n / 10, n_train_chars = n - n_test_chars;
  size_t ex_train = n_train_chars > L ? (n_train_chars - 1) / L : 0;
  size_t ex_test = n_test_chars > L ? (n_test_chars - 1) / L : 0;
  if (ex_train == 0 || ex_test == 0) {
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: %zu characters are too few for windows of %zu", name,
                      n, L);
    goto out;
  }
  /* Vocabulary: the distinct code points in increasing order, so a token's
   * number is the count of distinct code points below it. ASCII (all of
   * Moby-Dick but a few hundred characters) is numbered through a 128-entry
   * table; only the other code points are sorted and searched. This is
   * linear in the text where a sort of every character was n log n. */
  size_t rank[128] = {0}, n_ascii = 0, n_other = 0;
  for (size_t i = 0; i < n; i++)
    if (cp[i] < 128)
      rank[cp[i]] = 1;
    else
      n_other++;
  for (int c = 0; c < 128; c++)
    if (rank[c]) rank[c] = ++n_ascii; /* number + 1; 0 means absent */
  vocab = ph_malloc(n_other + 1, sizeof *vocab, "vocabulary", err);
  if (!vocab) {
    st = PH_ERR_NOMEM;
    goto out;
  }
  size_t V = 0;
  for (size_t i = 0; i < n; i++)
    if (cp[i] >= 128) vocab[V++] = cp[i];
  qsort(vocab, V, sizeof *vocab, cmp_u32);
  size_t n_unique = 0;
  for (size_t i = 0; i < V; i++)
    if (i == 0 || vocab[i] != vocab[i - 1]) vocab[n_unique++] = vocab[i];
  V = n_ascii + n_unique;
  d->task = PH_TASK_SEQUENCE;
  d->in_ndim = 1;
  d->in_shape[0] = L;
  d->in_size = L;
  d->n_targets = L;
  d->n_classes = V;
  st = ph_dataset_init(d, ex_train, ex_test, err);
  if (st != PH_OK) goto out;
  for (int sp = 0; sp < 2; sp++) {
    size_t base = sp == 0 ? 0 : n_train_chars;
    for (size_t e = 0; e < d->n[sp]; e++)
      for (size_t t = 0; t < L; t++) {
        size_t at = base + e * L + t;
        d->x[sp][e * L + t] =
            (double)token(cp[at], rank, n_ascii, vocab, n_unique);
        d->y[sp][e * L + t] =
            (int32_t)token(cp[at + 1], rank, n_ascii, vocab, n_unique);
      }
  }
out:
  free(vocab);
  free(cp);
  return st;
}

ph_status ph_load_text(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                       ph_error *err) {
  size_t L = o->seq_len;
  PH_TRY(ph_spec_size(s, "len", 2, 4096, &L, err));
  char *path =
      s->arg[0] ? strdup(s->arg) : ph_data_file("moby-dick.txt.gz", err);
  if (!path) return PH_ERR_NOMEM;
  unsigned char *buf;
  size_t len;
  ph_status st = ph_gz_read_file(path, &buf, &len, err);
  if (st == PH_OK) {
    st = ph_text_parse(d, buf, len, path, L, err);
    free(buf);
  }
  if (st == PH_OK)
    snprintf(d->provenance, sizeof d->provenance, "%s%s",
             s->arg[0] ? "UTF-8 text "
                       : "Moby-Dick (Melville 1851, public domain) from ",
             path);
  free(path);
  return st;
}
