/* demo_summary.h: DIR/summary.json and DIR/summary.md for `pothole demo`:
 * every number the demo produced, each beside the command that made it. */
#ifndef PH_TOOLS_DEMO_SUMMARY_H
#define PH_TOOLS_DEMO_SUMMARY_H

#include "core/error.h"
#include "demo_runner.h"

ph_status ph_demo_summary_write(const ph_demo *d, const char *profile,
                                double seconds, ph_error *err);

#endif
