/* json.c: cJSON conventions for pothole (see json.h). */
#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/csv.h"
#include "core/version.h"

ph_status ph_json_write_file(const char *path, const cJSON *root,
                             ph_error *err) {
  char *text = cJSON_Print(root);
  if (!text)
    return ph_error_set(err, PH_ERR_NOMEM, "%s: cannot format JSON", path);
  size_t len = strlen(text);
  ph_afile f;
  ph_status s = ph_afile_open(&f, path, err);
  if (s == PH_OK) {
    ph_afile_write(&f, text, len);
    ph_afile_write(&f, "\n", 1);
    s = ph_afile_commit(&f, err);
  }
  cJSON_free(text);
  return s;
}

ph_status ph_json_parse(const char *text, size_t len, const char *name,
                        cJSON **root, ph_error *err) {
  const char *end = NULL;
  *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!*root) {
    const char *at = cJSON_GetErrorPtr();
    long off = (at && at >= text && at <= text + len) ? (long)(at - text) : -1;
    return ph_error_set(err, PH_ERR_FORMAT, "%s: invalid JSON at byte %ld",
                        name, off);
  }
  return PH_OK;
}

ph_status ph_json_read_file(const char *path, cJSON **root, ph_error *err) {
  unsigned char *buf;
  size_t len;
  *root = NULL;
  PH_TRY(ph_read_file(path, &buf, &len, err));
  ph_status s = ph_json_parse((const char *)buf, len, path, root, err);
  free(buf);
  return s;
}

/* cJSON prints doubles with %1.15g and accepts it when it matches to a
 * relative DBL_EPSILON, so 0.1 + 0.2 would come back as 0.3. Numbers are
 * therefore written as raw text in the shortest form that round-trips
 * exactly (ph_format_double); integers print without an exponent. */
cJSON *ph_json_number(double v) {
  if (!isfinite(v)) return cJSON_CreateNull();
  char buf[40];
  if (v == floor(v) && fabs(v) < 1e15)
    snprintf(buf, sizeof buf, "%.0f", v);
  else
    ph_format_double(buf, sizeof buf, v);
  return cJSON_CreateRaw(buf);
}

cJSON *ph_json_add_number(cJSON *obj, const char *key, double v) {
  cJSON *it = ph_json_number(v);
  if (it && !cJSON_AddItemToObject(obj, key, it)) {
    cJSON_Delete(it);
    return NULL;
  }
  return it;
}

cJSON *ph_json_array(const double *v, size_t n) {
  cJSON *a = cJSON_CreateArray();
  if (!a) return NULL;
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, ph_json_number(v[i]));
  return a;
}

ph_status ph_json_get_number(const cJSON *obj, const char *key,
                             const char *where, double *out, ph_error *err) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsNumber(it)) {
    *out = it->valuedouble;
    return PH_OK;
  }
  if (cJSON_IsNull(it)) {
    *out = NAN;
    return PH_OK;
  }
  return ph_error_set(err, PH_ERR_FORMAT, "%s: missing or non-numeric \"%s\"",
                      where, key);
}

ph_status ph_json_get_string(const cJSON *obj, const char *key,
                             const char *where, const char **out,
                             ph_error *err) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsString(it)) {
    *out = it->valuestring;
    return PH_OK;
  }
  return ph_error_set(err, PH_ERR_FORMAT, "%s: missing or non-string \"%s\"",
                      where, key);
}

void ph_json_add_stamp(cJSON *obj) {
  cJSON_AddStringToObject(obj, "tool", "pothole");
  cJSON_AddStringToObject(obj, "version", PH_VERSION);
}
