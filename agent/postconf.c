/*
 * postconf - the Postfix settings relaysync prescribes, and the live ones.
 * See postconf.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "postconf.h"
#include "table.h"

#define DEFAULT_SERVICE	"submission/inet"
#define SEP		", \t\r\n"

struct words {
	char **w;
	size_t n;
};

static void
words_free(struct words *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->w[i]);
	free(w->w);
	w->w = NULL;
	w->n = 0;
}

/* Split a Postfix list (commas and white space separate). */
static void
words_split(const char *s, const char *sep, struct words *w)
{
	size_t len;

	w->w = NULL;
	w->n = 0;
	while (*(s += strspn(s, sep))) {
		len = strcspn(s, sep);
		w->w = xrealloc(w->w, (w->n + 1) * sizeof(*w->w));
		w->w[w->n++] = xstrndup(s, len);
		s += len;
	}
}

/*
 * postconf -c config_dir ARG...: 0 with the value in out, 1 when postconf
 * only warned (an unknown parameter, an unmatched service), -1 when it
 * failed. postconf is run by absolute path (config_postfix_cmd()).
 */
static int
pc_run(const struct rs_config *c, const char *a1, const char *a2,
    const char *a3, struct buf *out, struct rs_err *err)
{
	const char *config_dir = c->postfix.config_dir;
	struct buf cmd;
	int rc;

	buf_init(&cmd);
	{
		char *argv[] = { (char *)config_postfix_cmd(c, "postconf",
		    &cmd), "-c", (char *)config_dir, (char *)a1, (char *)a2,
		    (char *)a3, NULL };

		rc = run_cmd(argv, out);
	}
	buf_free(&cmd);
	if (rc != 0) {
		if (err != NULL)
			rs_err_set(err, RS_EX_CONFIG, "postconf -c %s failed "
			    "(status %d): %s; check postfix.config_dir",
			    config_dir, rc, buf_str(out));
		return -1;
	}
	buf_str(out);
	return strncmp(out->data, "postconf: ", 10) == 0 ? 1 : 0;
}

/* The live value of a service's parameter: its -o override, else main.cf. */
static int
live_value(const struct rs_config *c, const char *service, const char *name,
    struct buf *out, struct rs_err *err)
{
	struct buf p;
	int rc;

	buf_init(&p);
	buf_printf(&p, "%s/%s", service, name);
	rc = pc_run(c, "-P", "-h", p.data, out, err);
	buf_free(&p);
	if (rc == 1)
		rc = pc_run(c, "-h", name, NULL, out, err);
	if (rc == 1)
		buf_reset(out);
	return rc < 0 ? -1 : 0;
}

/* How many live words from i on are relaysync's own (0, 1 or 2). */
static size_t
ours_at(const struct words *w, size_t i, const char *const *ours,
    size_t nours)
{
	size_t j;

	if (strcmp(w->w[i], "check_sender_access") == 0)
		return i + 1 < w->n && nours > 2 &&
		    strcmp(w->w[i + 1], ours[2]) == 0 ? 2 : 0;
	for (j = 0; j < nours; j++)
		if (strcmp(w->w[i], ours[j]) == 0)
			return 1;
	return 0;
}

/* ours, then the live words without ours (applying twice changes nothing). */
static char *
prepend(const char *const *ours, size_t nours, const char *live)
{
	struct words w;
	struct buf b;
	size_t i, skip;

	buf_init(&b);
	for (i = 0; i < nours; i++)
		buf_printf(&b, "%s%s", i ? "," : "", ours[i]);
	words_split(live, SEP, &w);
	for (i = 0; i < w.n; i += skip ? skip : 1)
		if ((skip = ours_at(&w, i, ours, nours)) == 0)
			buf_printf(&b, ",%s", w.w[i]);
	words_free(&w);
	return (char *)buf_str(&b);
}

static void
add(struct rs_pf_set *set, enum rs_pf_kind kind, const char *name,
    char *value)
{
	set->s[set->n].kind = kind;
	set->s[set->n].name = xstrdup(name);
	set->s[set->n].value = value;
	set->n++;
}

/* A master.cf line for one of relaysync's smtp client transports. */
static char *
transport(const struct rs_config *c, const char *name, int wrapper)
{
	struct buf b, m;

	buf_init(&b);
	buf_init(&m);
	buf_printf(&b, "%s unix - - n - - smtp -o syslog_name=postfix/%s", name,
	    name);
	buf_printf(&b, " -o smtp_sasl_auth_enable=yes"
	    " -o smtp_sender_dependent_authentication=yes");
	buf_printf(&b, " -o smtp_sasl_password_maps=%s",
	    config_map_path(c, rs_table_info[RS_T_SASL_PASSWD].name, &m));
	buf_printf(&b, " -o smtp_sasl_security_options=noanonymous"
	    " -o smtp_sasl_tls_security_options=noanonymous");
	buf_printf(&b, " -o smtp_tls_security_level=%s", c->postfix.tls_level);
	buf_printf(&b, " -o smtp_tls_policy_maps=%s",
	    config_map_path(c, rs_table_info[RS_T_TLS_POLICY].name, &m));
	buf_printf(&b, " -o smtp_tls_CAfile=%s", c->postfix.tls_ca_file);
	if (wrapper)
		buf_printf(&b, " -o smtp_tls_wrappermode=yes");
	buf_free(&m);
	return (char *)buf_str(&b);
}

static int
service_settings(const struct rs_config *c, struct rs_pf_set *set,
    struct rs_err *err)
{
	const char *ours[3];
	struct buf live, m, a;
	int rc;

	buf_init(&live);
	buf_init(&m);
	buf_init(&a);
	ours[0] = config_map_path(c, rs_table_info[RS_T_SENDER_LOGIN].name,
	    &m);
	if ((rc = live_value(c, set->service,
	    "smtpd_sender_login_maps", &live, err)) == 0)
		add(set, RS_PF_SERVICE, "smtpd_sender_login_maps",
		    prepend(ours, 1, live.data));
	ours[0] = "reject_known_sender_login_mismatch";
	ours[1] = "check_sender_access";
	ours[2] = config_map_path(c, rs_table_info[RS_T_SENDER_ACCESS].name,
	    &a);
	if (rc == 0 && (rc = live_value(c, set->service,
	    "smtpd_sender_restrictions", &live, err)) == 0)
		add(set, RS_PF_SERVICE, "smtpd_sender_restrictions",
		    prepend(ours, 3, live.data));
	buf_free(&live);
	buf_free(&m);
	buf_free(&a);
	return rc;
}

int
postconf_prescribe(const struct rs_config *c, const char *service,
    struct rs_pf_set *set, struct rs_err *err)
{
	struct buf out;
	int rc;

	memset(set, 0, sizeof(*set));
	set->service = xstrdup(service ? service : DEFAULT_SERVICE);
	buf_init(&out);
	rc = pc_run(c, "-M", set->service, NULL, &out,
	    err);
	set->service_defined = rc == 0 && out.len > 0;
	buf_free(&out);
	if (rc < 0)
		return -1;
	add(set, RS_PF_MASTER, RS_SMTP_TRANSPORT "/unix",
	    transport(c, RS_SMTP_TRANSPORT, 0));
	add(set, RS_PF_MASTER, RS_SMTPS_TRANSPORT "/unix",
	    transport(c, RS_SMTPS_TRANSPORT, 1));
	return service_settings(c, set, err);
}

void
postconf_set_free(struct rs_pf_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->s[i].name);
		free(set->s[i].value);
	}
	free(set->service);
	memset(set, 0, sizeof(*set));
}

/* A shell word in single quotes. */
static void
quoted(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	buf_addc(b, '\'');
}

/* The postconf command that makes one setting live. */
static const char *
command(const struct rs_pf_set *set, const struct rs_pf_setting *s,
    const char *config_dir, struct buf *b)
{
	struct buf arg;

	buf_init(&arg);
	if (s->kind == RS_PF_MASTER)
		buf_printf(&arg, "%s=%s", s->name, s->value);
	else
		buf_printf(&arg, "%s/%s=%s", set->service, s->name, s->value);
	buf_reset(b);
	buf_adds(b, "postconf ");
	if (strcmp(config_dir, "/etc/postfix") != 0) {
		buf_adds(b, "-c ");
		quoted(b, config_dir);
		buf_addc(b, ' ');
	}
	buf_adds(b, s->kind == RS_PF_MASTER ? "-M " : "-P ");
	quoted(b, arg.data);
	buf_free(&arg);
	return buf_str(b);
}

static const char notes[] =
    "# How it works, and what it costs:\n"
    "# - reject_known_sender_login_mismatch answers 553 5.7.1 when a user "
    "sends\n#   with an address that sender_login gives to another login "
    "(any case,\n#   with an address extension, or a quoted local part "
    "alike), and when an\n#   unauthenticated client on this service uses "
    "one.\n"
    "# - check_sender_access answers FILTER relaysync_smtp:[gateway]:port "
    "for the\n#   owner's own message: the whole message, with every "
    "recipient (internal\n#   ones too), leaves through the gateway, "
    "authenticated with the owner's\n#   login. A FILTER replaces "
    "content_filter for that message: such mail\n#   skips an "
    "after-queue content filter (as it skips your relayhost).\n"
    "# - main.cf is not changed: mail arriving on port 25, from mynetworks, "
    "from\n#   an internal MTA, or from local sendmail -f never meets "
    "relaysync's tables\n#   and is delivered the normal way (relayhost, "
    "transport_maps, relay_domains).\n"
    "# - The gateway logins (sasl_passwd) and TLS policies (tls_policy) "
    "are used\n#   only by relaysync_smtp and relaysync_smtps; the global "
    "smtp client never\n#   sees them. Keep relaysync's tables out of "
    "main.cf's smtp_* settings.\n"
    "# - sender_relay and sender_transport list the same routes for "
    "monitoring;\n#   do not use them as sender_dependent_* maps: those "
    "would route forwarded\n#   and unauthenticated mail too.\n";

void
postconf_print(const struct rs_pf_set *set, const char *config_dir,
    FILE *fp)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	fprintf(fp, "# relaysync: Postfix settings for per-user outbound "
	    "gateways. Review them,\n# run them once, then postfix reload; "
	    "relaysync check-config compares them\n# with the live "
	    "configuration.\n\n# master.cf: relaysync's own SMTP client "
	    "transports (STARTTLS, implicit TLS):\n");
	for (i = 0; i < set->n; i++) {
		if (i > 0 && set->s[i].kind != set->s[i - 1].kind)
			fprintf(fp, "\n# master.cf: %s, the service where users "
			    "authenticate (the restriction\n# lists keep what "
			    "they hold now, after relaysync's checks):\n",
			    set->service);
		fprintf(fp, "%s\n", command(set, &set->s[i], config_dir, &b));
	}
	if (!set->service_defined)
		fprintf(fp, "# WARNING: %s is not defined in master.cf: define "
		    "the service where\n# users authenticate first (SASL "
		    "enabled), or name it with --service NAME/TYPE.\n",
		    set->service);
	fprintf(fp, "\n# main.cf: nothing to change.\n\n%s", notes);
	buf_free(&b);
}

/* Two values equal word for word (Postfix folds white space and commas). */
static int
same_words(const char *a, const char *b, const char *sep)
{
	struct words x, y;
	size_t i;
	int same;

	words_split(a, sep, &x);
	words_split(b, sep, &y);
	same = x.n == y.n;
	for (i = 0; same && i < x.n; i++)
		same = strcmp(x.w[i], y.w[i]) == 0;
	words_free(&x);
	words_free(&y);
	return same;
}

static int
check_one(const struct rs_pf_set *set, const struct rs_pf_setting *s,
    const struct rs_config *c, FILE *fp)
{
	const char *config_dir = c->postfix.config_dir;
	struct buf live, cmd;
	int rc, same;

	buf_init(&live);
	buf_init(&cmd);
	if (s->kind == RS_PF_MASTER)
		rc = pc_run(c, "-Mf", s->name, NULL, &live, NULL);
	else {
		buf_printf(&cmd, "%s/%s", set->service, s->name);
		rc = pc_run(c, "-P", "-h", cmd.data, &live, NULL);
	}
	if (rc == 0 && live.len == 0)
		rc = 1;		/* postconf -M prints nothing for no service */
	same = rc == 0 && same_words(live.data, s->value, s->kind ==
	    RS_PF_MASTER ? " \t\r\n" : SEP);
	if (!same)
		fprintf(fp, "postfix: %s %s %s: %s; run: %s\n", config_dir,
		    s->kind == RS_PF_MASTER ? "master.cf service" :
		    set->service, s->name, rc == 0 ? "differs from what "
		    "relaysync prescribes" : "is missing",
		    command(set, s, config_dir, &cmd));
	buf_free(&live);
	buf_free(&cmd);
	return !same;
}

int
postconf_check(const struct rs_pf_set *set, const struct rs_config *c,
    FILE *fp)
{
	size_t i;
	int n = 0;

	if (!set->service_defined) {
		fprintf(fp, "postfix: %s master.cf: the service %s is not "
		    "defined; define the service where users authenticate, or "
		    "name it with --service NAME/TYPE\n",
		    c->postfix.config_dir, set->service);
		n++;
	}
	for (i = 0; i < set->n; i++)
		n += check_one(set, &set->s[i], c, fp);
	return n;
}

/* The host of a next hop: "[host]:port", "host:port" or "host". */
static void
add_hop(const char *hop, char ***hops, size_t *n)
{
	size_t len;

	if (*hop == '[')
		len = strcspn(++hop, "]");
	else
		len = strcspn(hop, ":");
	if (len == 0)
		return;
	*hops = xrealloc(*hops, (*n + 1) * sizeof(**hops));
	(*hops)[*n] = xstrndup(hop, len);
	str_lower((*hops)[(*n)++]);
}

/* The next hop of "transport:nexthop" values. */
static void
add_transport_hops(const char *value, char ***hops, size_t *n)
{
	struct words w;
	const char *colon;
	size_t i;

	words_split(value, " \t\r\n", &w);
	for (i = 0; i < w.n; i++)
		if ((colon = strchr(w.w[i], ':')) != NULL)
			add_hop(colon + 1, hops, n);
	words_free(&w);
}

/* The values of the transport_maps tables postmap can list. */
static void
add_map_hops(const struct rs_config *c, const char *maps, char ***hops,
    size_t *n)
{
	static const char *const listable[] = { "hash:", "btree:", "lmdb:",
	    "cdb:", NULL };
	struct words w, lines;
	struct buf out, cmd;
	size_t i, j, k;
	char *argv[] = { NULL, "-c", c->postfix.config_dir, "-s", NULL, NULL };

	buf_init(&out);
	buf_init(&cmd);
	argv[0] = (char *)config_postfix_cmd(c, "postmap", &cmd);
	words_split(maps, SEP, &w);
	for (i = 0; i < w.n; i++) {
		for (k = 0; listable[k] && strncmp(w.w[i], listable[k],
		    strlen(listable[k])) != 0; k++)
			;
		argv[4] = w.w[i];
		if (listable[k] == NULL || run_cmd(argv, &out) != 0)
			continue;
		words_split(buf_str(&out), "\n", &lines);
		for (j = 0; j < lines.n; j++)
			add_transport_hops(lines.w[j] + strcspn(lines.w[j],
			    " \t"), hops, n);
		words_free(&lines);
	}
	words_free(&w);
	buf_free(&out);
	buf_free(&cmd);
}

int
postconf_own_hops(const struct rs_config *c, char ***hops, size_t *n,
    struct rs_err *err)
{
	static const char *const transports[] = { "relay_transport",
	    "default_transport", NULL };
	struct words w;
	struct buf v;
	size_t i;
	int rc;

	*hops = NULL;
	*n = 0;
	buf_init(&v);
	if ((rc = pc_run(c, "-h", "relayhost", NULL, &v, err)) == 0) {
		words_split(v.data, SEP, &w);
		for (i = 0; i < w.n; i++)
			add_hop(w.w[i], hops, n);
		words_free(&w);
	}
	for (i = 0; rc >= 0 && transports[i]; i++)
		if ((rc = pc_run(c, "-h", transports[i], NULL, &v,
		    err)) == 0)
			add_transport_hops(v.data, hops, n);
	if (rc >= 0 && (rc = pc_run(c, "-h", "transport_maps", NULL,
	    &v, err)) == 0)
		add_map_hops(c, v.data, hops, n);
	buf_free(&v);
	return rc < 0 ? -1 : 0;
}

void
postconf_free_hops(char **hops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(hops[i]);
	free(hops);
}

int
postconf_has_map_type(const struct rs_config *c, const char *type)
{
	struct buf out;
	const char *p;
	size_t n = strlen(type);
	int found = 0;

	buf_init(&out);
	if (pc_run(c, "-m", NULL, NULL, &out, NULL) == 0)
		for (p = buf_str(&out); *p && !found; p += strcspn(p, "\n"),
		    p += *p == '\n')
			found = strncmp(p, type, n) == 0 &&
			    (p[n] == '\n' || p[n] == '\0');
	buf_free(&out);
	return found;
}
