/*
 * notify - tell someone over HTTP that a run changed something or failed.
 *
 * Functions
 *	notify_post() POSTs a JSON body to notify.webhook_url with libcurl
 *	(Content-Type: application/json, 10 s timeout, no redirects followed,
 *	an HTTP status of 400 or more counts as a failure).
 *
 * Diagnostics
 *	A failure is logged as a warning naming the URL and curl's message,
 *	and returned as -1; callers never fail a sync because of it. The body
 *	is the report, which holds no secret.
 */
#ifndef RS_NOTIFY_H
#define RS_NOTIFY_H

#include "config.h"

int notify_post(const struct rs_config *c, const struct buf *body);

#endif
