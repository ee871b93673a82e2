/*
 * watch - stay connected and apply directory changes within a second.
 *
 * An RFC 4533 refreshAndPersist search over the base DN tells relaysync
 * that something changed; changes that arrive within watch.window_ms of
 * each other are coalesced, then one ordinary sync run (pipeline_sync(),
 * under the same lock and safety limits as a timer-driven sync) applies
 * them. Nothing is written when the rendered tables did not change.
 *
 * Functions
 *	watch_run() runs until SIGTERM or SIGINT (the current run finishes,
 *	then exit 0). At start and after every reconnection it runs one sync
 *	to catch up. A lost connection keeps the installed tables and is
 *	retried with exponential backoff capped at watch.max_backoff seconds;
 *	the search resumes from its sync cookie (<state_dir>/watch-cookie),
 *	and starts afresh when the server no longer accepts it. SIGHUP
 *	reloads the configuration (a bad one is logged and the old one kept).
 *
 * Diagnostics
 *	Logs each applied change and each run like sync; connection trouble
 *	is logged as a warning with the time until the next attempt. Returns
 *	RS_EX_CONFIG when the configuration cannot be loaded at start.
 */
#ifndef RS_WATCH_H
#define RS_WATCH_H

#include "pipeline.h"

int watch_run(const char *, const struct rs_runopts *);

#endif
