/* build_id.h: which source this binary was built from, for records that
 * must not be mixed across builds (`pothole study`'s DIR/study.cfg) and for
 * `pothole --version`. */
#ifndef PH_TOOLS_BUILD_ID_H
#define PH_TOOLS_BUILD_ID_H

/* The git commit of the build (`git describe --always --dirty=+
 * --abbrev=12`, so a trailing '+' marks uncommitted changes), or "" when
 * the source was not a git checkout. */
const char *ph_build_commit(void);

#endif
