/*
 * watch - stay connected and apply directory changes within a second.
 *
 * watch keeps the model in memory. An RFC 4533 refreshAndPersist search
 * over the base DN (on Active Directory, DirSync asked every wait)
 * announces which entries changed; changes that arrive
 * within watch.window_ms of each other are coalesced, the announced
 * entries are read again and merged into the model (pipeline_merge()),
 * and the model is decided, rendered, planned and applied like a sync
 * run (pipeline_apply(), under the same lock and safety limits as a
 * timer-driven sync, which it waits for). Nothing is written when the
 * rendered tables did not change. Once idle (a second without changes),
 * and before it stops or reloads, it saves the snapshot, so that a
 * timer-driven sync after it can be incremental.
 *
 * Functions
 *	watch_run() runs until SIGTERM or SIGINT (the current apply finishes,
 *	then exit 0). At start the model comes from the snapshot of the last
 *	run when it may be used (see pipeline_sync()), else from a full read;
 *	the persistent search starts from its cookie, and what changed since
 *	is applied at once. A lost connection keeps the installed tables and
 *	the model, and is retried with exponential backoff capped at
 *	watch.max_backoff seconds; the search resumes from the last cookie,
 *	and when the server no longer accepts it, the model is read again in
 *	full. SIGHUP reloads the configuration (a bad one is logged and the
 *	old one kept) and reads the model again. While relaysync rollback
 *	holds syncs, watch applies nothing (it says so once); within a
 *	second of relaysync resume it applies the model as it is then.
 *
 *	A failed apply (postmap, the file system, a refusal by a safety limit)
 *	keeps the model and is tried again after 5 s, doubling up to
 *	watch.max_backoff, until one succeeds.
 *
 *	Under systemd (Type=notify) watch reports with sd_notify(3)'s
 *	protocol, spoken by hand over $NOTIFY_SOCKET: READY=1 after its first
 *	successful apply, STATUS= with what it is doing ("FAILING: ..." while
 *	applying fails), WATCHDOG=1 every second while applying works - and
 *	none while it fails, so that WatchdogSec= marks the unit failed and
 *	Restart= restarts it - RELOADING=1 on SIGHUP and STOPPING=1.
 *
 * Diagnostics
 *	Logs each applied change and each run like sync; connection trouble
 *	is logged as a warning with the time until the next attempt. Returns
 *	RS_EX_CONFIG when the configuration cannot be loaded at start, and
 *	RS_EX_UNAVAILABLE at once, with an error, when the server offers no
 *	way to follow changes (its rootDSE lists neither RFC 4533 nor AD
 *	DirSync): retrying could not help.
 */
#ifndef RS_WATCH_H
#define RS_WATCH_H

#include "pipeline.h"

int watch_run(const char *path, const struct rs_runopts *ro);

#endif
