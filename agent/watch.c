/*
 * watch - stay connected and apply directory changes within a second.
 * See watch.h for the contract.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "source.h"
#include "watch.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits end early */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

struct watcher {
	const char *path;
	struct rs_runopts ro;
	struct rs_config c;
	struct rs_keyring keys;
	long backoff;
	struct rs_model m;		/* the directory, as last read */
	struct rs_snapshot snap;	/* its cookie, for the snapshot */
	int have_model;
	int unsaved;		/* the model moved on since the snapshot */
	int read_all;		/* the server refused the cookie: no resume */
	int fatal;		/* exit code: retrying cannot help */
	int held;		/* a rollback holds syncs: changes wait */
	int ready;		/* READY=1 was sent */
	int failing;		/* the last apply failed: retry, no watchdog */
	long retry;		/* seconds until the next retry of a failed apply */
	time_t retry_at;
};

/*
 * The service manager's notification protocol (sd_notify(3)), by hand: one
 * datagram to the AF_UNIX socket named by $NOTIFY_SOCKET ("@": abstract).
 * Without the variable (not under systemd) nothing is sent.
 */
static void
tell_systemd(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	char msg[1024];
	size_t len;
	va_list ap;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* Still well: feed the watchdog (WatchdogSec=), unless applying fails. */
static void
alive(const struct watcher *w)
{
	if (!w->failing)
		tell_systemd("WATCHDOG=1");
}

static void
drop_model(struct watcher *w)
{
	model_free(&w->m);
	snapshot_free(&w->snap);
	w->have_model = 0;
	w->unsaved = 0;
}

static int
load(struct watcher *w)
{
	struct rs_config c;
	struct rs_keyring k;
	struct rs_err err;

	memset(&k, 0, sizeof(k));
	if (config_load(w->path, &c, &err) < 0 ||
	    keyring_load(c.secrets.key_file, 1, &k, &err) < 0) {
		rs_log(RS_LOG_ERROR, "%s", err.msg);
		config_free(&c);
		return err.code ? err.code : RS_EX_CONFIG;
	}
	config_free(&w->c);
	keyring_free(&w->keys);
	w->c = c;
	w->keys = k;
	drop_model(w);
	return 0;
}

/* Sleep up to the backoff, ending early on a signal; double it. */
static void
back_off(struct watcher *w)
{
	struct timespec ts = { 1, 0 };
	long i;

	rs_log(RS_LOG_WARN, "watch: trying the directory again in %ld s",
	    w->backoff);
	tell_systemd("STATUS=directory unavailable; trying again in %ld s",
	    w->backoff);
	for (i = 0; i < w->backoff && !stop_requested && !reload_requested;
	    i++) {
		alive(w);
		nanosleep(&ts, NULL);
	}
	w->backoff = w->backoff * 2 > w->c.watch.max_backoff ?
	    w->c.watch.max_backoff : w->backoff * 2;
}

/* The model from the last run's snapshot, or from a full read. */
static int
get_model(struct watcher *w, struct rs_source *src, struct rs_err *err)
{
	if (w->have_model)
		return 0;
	drop_model(w);		/* what a failed attempt left */
	if (w->read_all || pipeline_resume(&w->c, &w->snap, &w->m) < 0) {
		drop_model(w);
		if (pipeline_read_all(w->ro.dir, src, &w->snap, &w->m, err) < 0)
			return -1;
		w->read_all = 0;
		if (w->snap.cookie.len == 0 && w->ro.dir->can_follow(src, err) < 0) {
			w->fatal = RS_EX_UNAVAILABLE;	/* no retry helps */
			return -1;
		}
		if (w->snap.cookie.len == 0)
			return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: "
			    "watch needs RFC 4533 (OpenLDAP: the syncprov "
			    "overlay; 389-ds: the Content Synchronization and "
			    "Retro Changelog plugins) or AD DirSync",
			    w->c.ldap.uri);
	}
	snapshot_source(&w->c, w->snap.source);
	w->have_model = 1;
	return 0;
}

/* Connect, get the model and start the persistent search from its
 * cookie; NULL after logging why. */
static struct rs_source *
connect_watch(struct watcher *w)
{
	struct rs_source *src = NULL;
	struct rs_err err;
	int rc;

	rc = w->ro.dir->open(&w->c, &src, &err);
	if (rc == 0 && w->ro.dir->can_follow(src, &err) < 0) {
		rs_log(RS_LOG_ERROR, "watch: %s; run relaysync sync from a "
		    "timer instead", err.msg);
		w->fatal = RS_EX_UNAVAILABLE;
		w->ro.dir->close(src);
		return NULL;
	}
	if (rc == 0 && (rc = get_model(w, src, &err)) == 0 &&
	    (rc = w->ro.dir->follow(src, &w->snap.cookie, &err)) < 0 &&
	    err.code == RS_EX_TEMPFAIL) {
		rs_log(RS_LOG_WARN, "%s; reading everything again", err.msg);
		w->ro.dir->close(src);
		drop_model(w);
		w->read_all = 1;
		if ((rc = w->ro.dir->open(&w->c, &src, &err)) == 0 &&
		    (rc = get_model(w, src, &err)) == 0)
			rc = w->ro.dir->follow(src, &w->snap.cookie, &err);
	}
	if (rc < 0) {
		rs_log(w->fatal ? RS_LOG_ERROR : RS_LOG_WARN, "watch: %s",
		    err.msg);
		w->ro.dir->close(src);
		return NULL;
	}
	return src;
}

/* Take the run lock, waiting while a timer-driven sync holds it. */
static int
lock_run(struct watcher *w, struct rs_lock *lock)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	struct rs_err err;

	while (apply_lock(&w->c, lock, &err) < 0) {
		if (err.code != RS_EX_TEMPFAIL || stop_requested) {
			rs_log(RS_LOG_ERROR, "watch: %s", err.msg);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* After an apply: tell systemd how it went; a failure is retried with
 * a growing delay, and stops the watchdog until an apply succeeds. */
static void
applied(struct watcher *w, int rc)
{
	if (rc == 0) {
		w->failing = 0;
		w->retry = 0;
		tell_systemd("%sSTATUS=watching %s; tables current",
		    w->ready ? "" : "READY=1\n", w->c.ldap.uri);
		w->ready = 1;
		return;
	}
	w->failing = 1;
	w->retry = w->retry ? w->retry * 2 : 5;
	if (w->retry > w->c.watch.max_backoff)
		w->retry = w->c.watch.max_backoff;
	w->retry_at = time(NULL) + w->retry;
	rs_log(RS_LOG_WARN, "watch: applying failed (exit %d); the installed "
	    "tables stay as they are; trying again in %ld s", rc, w->retry);
	tell_systemd("STATUS=FAILING: applying the directory's changes failed "
	    "(exit %d); the installed tables are stale; trying again in %ld s",
	    rc, w->retry);
}

/* Decide and apply the model as it is now (how: what was read). */
static void
apply_model(struct watcher *w, const struct rs_how *how)
{
	struct rs_lock lock = { -1 };
	struct rs_decision d;
	struct rs_err err;
	double t0 = monotonic_seconds(), clock;
	int rc;

	memset(&d, 0, sizeof(d));
	if (lock_run(w, &lock) < 0) {
		applied(w, RS_EX_TEMPFAIL);
		return;
	}
	if (pipeline_held(&w->c, &err)) {
		if (!w->held) {
			rs_log(RS_LOG_WARN, "watch: %s; directory changes wait "
			    "until then", err.msg);
			tell_systemd("STATUS=held: %s", err.msg);
		}
		w->held = 1;
		apply_unlock(&lock);
		return;
	}
	w->held = 0;
	clock = monotonic_seconds();
	rc = pipeline_decide(&w->c, &w->keys, &w->m, &d, &err);
	pipeline_stage("decide", &clock);
	if (rc < 0)
		rc = rs_fail(&err);
	else if ((rc = pipeline_apply(&w->ro, &w->c, &w->m, &d, how, NULL,
	    t0)) == RS_EX_OK)
		pipeline_record_keys(&w->c, &w->keys);
	w->unsaved = 1;
	policy_free(&d);
	apply_unlock(&lock);
	applied(w, rc);
}

/* After relaysync resume: apply the model that waited during the hold. */
static void
apply_waited(struct watcher *w)
{
	struct rs_how how;

	memset(&how, 0, sizeof(how));
	how.incremental = 1;
	apply_model(w, &how);
}

/* Save the snapshot (when idle: it takes a while at 100,000 users, and
 * only the next timer-driven sync needs it). */
static void
save(struct watcher *w)
{
	struct rs_lock lock = { -1 };

	if (!w->unsaved || lock_run(w, &lock) < 0)
		return;
	w->snap.unchanged = 0;
	w->snap.seal_with = &w->keys;
	pipeline_save(&w->c, &w->m, NULL, &w->snap);
	w->unsaved = 0;
	apply_unlock(&lock);
}

/* Wait for changes; coalesce a burst; -1 when the connection is gone. */
static int
next_burst(struct watcher *w, struct rs_source *src)
{
	struct rs_err err;
	int n, total = 0;

	while (!stop_requested && !reload_requested && total == 0) {
		alive(w);
		if (w->failing && time(NULL) >= w->retry_at)
			return 0;	/* time to retry the failed apply */
		if ((n = w->ro.dir->wait(src, 1000, &err)) < 0)
			goto lost;
		if ((total = n) == 0 && !w->failing)
			save(w);
		if (total == 0 && w->held && !pipeline_held(&w->c, &err))
			apply_waited(w);
	}
	while (total > 0 && !stop_requested) {
		if ((n = w->ro.dir->wait(src, (int)w->c.watch.window_ms,
		    &err)) < 0)
			goto lost;
		if (n == 0)
			break;
		total += n;
	}
	return total;
lost:
	rs_log(RS_LOG_WARN, "watch: %s; the installed tables stay as they are",
	    err.msg);
	return -1;
}

/* Merge what the server announced, then apply; -1 when the connection
 * failed while reading the changed entries. */
static int
catch_up(struct watcher *w, struct rs_source *src)
{
	struct rs_changes ch;
	struct rs_how how;
	struct rs_err err;
	int rc;

	w->ro.dir->take(src, &ch);
	rs_log(RS_LOG_DEBUG, "watch: %zu changed, %zu deleted entries%s",
	    ch.n, ch.gone.count, ch.present_phase ? " (present phase)" : "");
	memset(&how, 0, sizeof(how));
	how.incremental = 1;
	how.changed = ch.n;
	how.deleted = ch.gone.count;
	rc = pipeline_merge(w->ro.dir, src, &ch, &w->m, NULL, NULL, &err);
	model_changes_free(&ch);
	if (rc < 0) {
		rs_log(RS_LOG_WARN, "watch: %s; the installed tables stay as "
		    "they are%s", err.msg, err.code == RS_EX_TEMPFAIL ?
		    "; reading everything again" : "");
		if (err.code == RS_EX_TEMPFAIL) {
			drop_model(w);
			w->read_all = 1;
		}
		return -1;
	}
	w->ro.dir->position(src, &w->snap.cookie);
	apply_model(w, &how);
	return 0;
}

static void
serve(struct watcher *w, struct rs_source *src)
{
	int n;

	w->backoff = 1;
	if (catch_up(w, src) < 0)
		return;
	while (!stop_requested && !reload_requested) {
		if ((n = next_burst(w, src)) < 0)
			return;
		if (n > 0 && catch_up(w, src) < 0)
			return;
		if (n == 0 && w->failing && !stop_requested &&
		    !reload_requested)
			apply_waited(w);	/* the retry of a failed apply */
	}
}

int
watch_run(const char *path, const struct rs_runopts *ro)
{
	struct watcher w;
	struct rs_source *src;
	int rc;

	memset(&w, 0, sizeof(w));
	w.path = path;
	w.ro = *ro;
	w.ro.no_report = 1;
	w.backoff = 1;
	model_init(&w.m);
	snapshot_init(&w.snap);
	if ((rc = load(&w)) != 0)
		return rc;
	catch_signals();
	rs_log(RS_LOG_INFO, "watch: started for %s", w.c.ldap.uri);
	while (!stop_requested) {
		if (reload_requested) {
			reload_requested = 0;
			save(&w);
			tell_systemd("RELOADING=1");
			if (load(&w) == 0)
				rs_log(RS_LOG_INFO, "watch: configuration "
				    "reloaded from %s", path);
			w.ready = 0;	/* READY=1 again after the next apply */
		}
		if ((src = connect_watch(&w)) == NULL) {
			if (w.fatal)
				break;
			back_off(&w);
			continue;
		}
		serve(&w, src);
		w.ro.dir->close(src);
		if (!stop_requested && !reload_requested)
			back_off(&w);
	}
	tell_systemd("STOPPING=1");
	save(&w);
	rs_log(RS_LOG_INFO, "watch: stopped");
	drop_model(&w);
	config_free(&w.c);
	keyring_free(&w.keys);
	return w.fatal ? w.fatal : RS_EX_OK;
}
