/*
 * verify - check accepted gateways over SMTP before mail depends on them.
 * See verify.h for the contract.
 *
 * libcurl's SMTP "connect only" mode does the greeting, EHLO, STARTTLS and
 * AUTH and stops before MAIL FROM; cleaning the handle up says QUIT.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"
#include "verify.h"

const char *
check_name(enum rs_check c)
{
	static const char *const names[] = { "ok", "unreachable", "tls_failed",
	    "auth_failed", "timeout" };

	return names[c];
}

static enum rs_check
classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return RS_CK_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return RS_CK_TIMEOUT;
	case CURLE_LOGIN_DENIED:
	case CURLE_AUTH_ERROR:
		return RS_CK_AUTH_FAILED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
		return RS_CK_TLS_FAILED;
	default:
		return RS_CK_UNREACHABLE;
	}
}

struct job {
	struct rs_check_result *res;
	char err[CURL_ERROR_SIZE];
	char url[600];
};

static CURL *
make_handle(const struct rs_config *c, struct job *j, long timeout)
{
	const struct rs_route *r = &j->res->v->route;
	const char *tls = c->postfix.tls_level;
	int verify = strcmp(tls, "encrypt") != 0;
	char helo[256];
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	if (gethostname(helo, sizeof(helo)) < 0)
		strcpy(helo, "localhost");
	helo[sizeof(helo) - 1] = '\0';
	snprintf(j->url, sizeof(j->url), "%s://%s%s%s:%d/%s",
	    r->sec == RS_SEC_SSL ? "smtps" : "smtp",
	    strncmp(r->host, "ipv6:", 5) == 0 ? "[" : "",
	    strncmp(r->host, "ipv6:", 5) == 0 ? r->host + 5 : r->host,
	    strncmp(r->host, "ipv6:", 5) == 0 ? "]" : "", r->port, helo);
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout * 1000);
	curl_easy_setopt(e, CURLOPT_USE_SSL, r->sec == RS_SEC_NONE ?
	    (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (*c->postfix.tls_ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->postfix.tls_ca_file);
	if (r->username) {
		curl_easy_setopt(e, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, r->password);
	}
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->err);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	j->err[0] = '\0';
	return e;
}

static void
finish_job(CURLM *m, CURL *e, CURLcode rc)
{
	struct job *j;
	curl_off_t us = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
	j->res->result = classify(rc);
	j->res->elapsed_ms = (long)(us / 1000);
	snprintf(j->res->detail, sizeof(j->res->detail), "%s",
	    rc == CURLE_OK ? "" : *j->err ? j->err : curl_easy_strerror(rc));
	curl_multi_remove_handle(m, e);
	curl_easy_cleanup(e);
}

/* Start the next jobs while fewer than `parallel` are running. */
static int
start_jobs(const struct rs_config *c, CURLM *m, struct job *jobs, size_t n,
    size_t *next, long running, long parallel, long timeout)
{
	CURL *e;

	for (; *next < n && running < parallel; (*next)++, running++) {
		if ((e = make_handle(c, &jobs[*next], timeout)) == NULL ||
		    curl_multi_add_handle(m, e) != CURLM_OK)
			return -1;
	}
	return 0;
}

int
verify_routes(const struct rs_config *c, const struct rs_verdict **routes,
    size_t n, long parallel, long timeout, struct rs_check_result *res,
    struct rs_err *err)
{
	struct job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	CURLM *m = curl_multi_init();
	CURLMsg *msg;
	size_t i, next = 0;
	int running = 0, left, rc = 0;

	for (i = 0; i < n; i++) {
		res[i].v = routes[i];
		res[i].result = RS_CK_UNREACHABLE;	/* until it finishes */
		snprintf(res[i].detail, sizeof(res[i].detail), "%s",
		    "the check did not finish");
		jobs[i].res = &res[i];
	}
	for (;;) {
		if (start_jobs(c, m, jobs, n, &next, running, parallel,
		    timeout) < 0) {
			rc = rs_err_set(err, RS_EX_FAIL, "libcurl cannot start "
			    "a check");
			break;
		}
		curl_multi_perform(m, &running);
		/* every finished check is read before deciding to stop: a
		 * handle left unread was never cleaned up nor reported */
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				finish_job(m, msg->easy_handle,
				    msg->data.result);
		if (!running && next >= n)
			break;
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
	free(jobs);
	return rc;
}

static void
gateway(struct buf *b, const struct rs_route *r)
{
	table_hop(b, r->host, r->port);
	buf_printf(b, " %s", security_name(r->sec));
}

void
verify_write(FILE *fp, enum rs_format fmt, const struct rs_check_result *r,
    size_t n)
{
	struct buf gw;
	size_t i, ok = 0;

	buf_init(&gw);
	if (fmt == RS_FMT_JSON)
		fputs("{\"results\":[", fp);
	for (i = 0; i < n; i++) {
		gateway(&gw, &r[i].v->route);
		ok += r[i].result == RS_CK_OK;
		if (fmt == RS_FMT_JSON)
			fprintf(fp, "%s{\"address\":\"%s\",\"gateway\":\"%s\","
			    "\"result\":\"%s\",\"elapsed_ms\":%ld}", i ? "," : "",
			    r[i].v->route.address, gw.data,
			    check_name(r[i].result), r[i].elapsed_ms);
		else
			fprintf(fp, "%-12s %s via %s (%ld ms)%s%s\n",
			    check_name(r[i].result), r[i].v->route.address,
			    gw.data, r[i].elapsed_ms, *r[i].detail ? ": " : "",
			    r[i].detail);
	}
	if (fmt == RS_FMT_JSON)
		fprintf(fp, "],\"ok\":%zu,\"failed\":%zu}\n", ok, n - ok);
	else
		fprintf(fp, "summary: %zu ok, %zu failed of %zu gateways\n", ok,
		    n - ok, n);
	buf_free(&gw);
}

void
verify_state(const struct rs_check_result *r, size_t n, struct buf *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].result == RS_CK_OK)
			buf_printf(out, "%s %s\n", r[i].v->route.address,
			    r[i].v->fingerprint);
	buf_str(out);
}

int
verify_load_ok(const struct rs_config *c, struct strmap *ok,
    struct rs_err *err)
{
	struct buf path, text;
	char *line, *next, *sp;
	int rc = 0;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_VERIFY_STATE);
	if (access(path.data, F_OK) < 0 && errno == ENOENT)
		buf_str(&text);
	else if (read_file(path.data, &text, err) < 0)
		rc = -1;
	for (line = text.data; rc == 0 && line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		free(*strmap_slot(ok, line));
		*strmap_slot(ok, line) = xstrdup(sp + 1);
	}
	buf_free(&path);
	buf_free(&text);
	return rc;
}
