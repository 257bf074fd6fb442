/* json.h: JSON through cJSON (Debian's libcjson), plus the conventions
 * pothole keeps: every summary is written atomically, pretty-printed, with a
 * trailing newline; non-finite numbers are written as null (JSON has no NaN),
 * and readers treat null where a number is expected as NaN. */
#ifndef PH_CORE_JSON_H
#define PH_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/error.h"

ph_status ph_json_write_file(const char *path, const cJSON *root,
                             ph_error *err);
/* Parse a file; on a syntax error the message gives the byte offset. */
ph_status ph_json_read_file(const char *path, cJSON **root, ph_error *err);
ph_status ph_json_parse(const char *text, size_t len, const char *name,
                        cJSON **root, ph_error *err);

/* Numbers: ALWAYS add them through these (not cJSON_AddNumberToObject, which
 * loses the last digits): exact shortest round-trip text; NaN/Inf -> null. */
cJSON *ph_json_number(double v);
/* Add a number; NaN/Inf become null. Returns the item (NULL on OOM). */
cJSON *ph_json_add_number(cJSON *obj, const char *key, double v);
/* A JSON array from doubles (NaN/Inf as null). */
cJSON *ph_json_array(const double *v, size_t n);

/* Typed getters with a message naming the key and the file on failure. */
ph_status ph_json_get_number(const cJSON *obj, const char *key,
                             const char *where, double *out, ph_error *err);
ph_status ph_json_get_string(const cJSON *obj, const char *key,
                             const char *where, const char **out,
                             ph_error *err);

/* The stamp every summary carries: {"tool": "pothole", "version": ...}. */
void ph_json_add_stamp(cJSON *obj);

#endif
