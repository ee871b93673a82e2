/*
 * watch - stay connected and apply directory changes within a second.
 * See watch.h for the contract.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "source.h"
#include "watch.h"

#define COOKIE_STATE	"watch-cookie"

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
};

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
	return 0;
}

/* Sleep up to the backoff, ending early on a signal; double it. */
static void
back_off(struct watcher *w)
{
	struct timespec ts = { w->backoff, 0 };

	rs_log(RS_LOG_WARN, "watch: trying the directory again in %ld s",
	    w->backoff);
	while (!stop_requested && !reload_requested &&
	    nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	w->backoff = w->backoff * 2 > w->c.watch.max_backoff ?
	    w->c.watch.max_backoff : w->backoff * 2;
}

static void
save_cookie(struct watcher *w, struct rs_source *src)
{
	struct rs_err err;
	struct buf b;

	buf_init(&b);
	source_watch_cookie(src, &b);
	if (b.len && apply_state(&w->c, COOKIE_STATE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "watch: %s", err.msg);
	buf_free(&b);
}

static void
read_cookie(struct watcher *w, struct buf *b)
{
	struct rs_err err;
	struct buf path;

	buf_init(&path);
	buf_printf(&path, "%s/%s", w->c.state_dir, COOKIE_STATE);
	if (read_file(path.data, b, &err) < 0)
		buf_reset(b);
	buf_free(&path);
}

/* Connect and start the persistent search; NULL after logging why. */
static struct rs_source *
connect_watch(struct watcher *w)
{
	struct rs_source *src = NULL;
	struct rs_err err;
	struct buf cookie;
	int rc;

	buf_init(&cookie);
	read_cookie(w, &cookie);
	rc = source_open(&w->c, &src, &err);
	if (rc == 0 && (rc = source_watch_start(src, &cookie, &err)) < 0 &&
	    err.code == RS_EX_TEMPFAIL) {
		rs_log(RS_LOG_WARN, "%s; starting afresh", err.msg);
		source_close(src);
		buf_reset(&cookie);
		if ((rc = source_open(&w->c, &src, &err)) == 0)
			rc = source_watch_start(src, &cookie, &err);
	}
	buf_free(&cookie);
	if (rc < 0) {
		rs_log(RS_LOG_WARN, "watch: %s", err.msg);
		source_close(src);
		return NULL;
	}
	return src;
}

/* Wait for changes; coalesce a burst; -1 when the connection is gone. */
static int
next_burst(struct watcher *w, struct rs_source *src)
{
	struct rs_err err;
	int n, total = 0;

	while (!stop_requested && !reload_requested && total == 0) {
		if ((n = source_watch_wait(src, 1000, &err)) < 0)
			goto lost;
		total = n;
	}
	while (total > 0 && !stop_requested) {
		if ((n = source_watch_wait(src, (int)w->c.watch.window_ms,
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

static void
serve(struct watcher *w, struct rs_source *src)
{
	int n;

	w->backoff = 1;
	(void)pipeline_sync(&w->ro, &w->c, &w->keys);	/* catch up */
	save_cookie(w, src);
	while (!stop_requested && !reload_requested) {
		if ((n = next_burst(w, src)) < 0)
			return;
		if (n > 0) {
			rs_log(RS_LOG_DEBUG, "watch: %d change(s) announced", n);
			(void)pipeline_sync(&w->ro, &w->c, &w->keys);
			save_cookie(w, src);
		}
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
	if ((rc = load(&w)) != 0)
		return rc;
	catch_signals();
	rs_log(RS_LOG_INFO, "watch: started for %s", w.c.ldap.uri);
	while (!stop_requested) {
		if (reload_requested) {
			reload_requested = 0;
			if (load(&w) == 0)
				rs_log(RS_LOG_INFO, "watch: configuration "
				    "reloaded from %s", path);
		}
		if ((src = connect_watch(&w)) == NULL) {
			back_off(&w);
			continue;
		}
		serve(&w, src);
		source_close(src);
		if (!stop_requested && !reload_requested)
			back_off(&w);
	}
	rs_log(RS_LOG_INFO, "watch: stopped");
	config_free(&w.c);
	keyring_free(&w.keys);
	return RS_EX_OK;
}
