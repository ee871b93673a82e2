/*
 * notify - tell someone over HTTP that a run changed something or failed.
 * See notify.h for the contract.
 */
#include <curl/curl.h>

#include "notify.h"

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int
notify_post(const struct rs_config *c, const struct buf *body)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr;
	struct buf shown;
	CURLcode rc;
	CURL *e;

	if (*c->notify.webhook_url == '\0')
		return 0;
	if ((e = curl_easy_init()) == NULL)
		return -1;
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, c->notify.webhook_url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		buf_init(&shown);
		rs_log(RS_LOG_WARN, "notify.webhook_url %s: %s; the sync itself "
		    "is not affected", url_redact(&shown, c->notify.webhook_url),
		    *errbuf ? errbuf : curl_easy_strerror(rc));
		buf_free(&shown);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(e);
	return rc == CURLE_OK ? 0 : -1;
}
