/*
 * probe - why a connection to the LDAP server failed, in words.
 * See probe.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "probe.h"

struct target {
	const struct rs_config *c;
	char host[256];
	int port;
	int ldaps;
	int fd;
	char *msg;
	size_t len;
};

static int say(struct target *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Write the cause into the caller's buffer; returns 0 (the probe is done). */
static int
say(struct target *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, t->len, fmt, ap);
	va_end(ap);
	return 0;
}

/* Host, port and TLS mode of ldap.uri; -1 for ldapi:// (nothing to probe). */
static int
parse_uri(struct target *t)
{
	LDAPURLDesc *lud = NULL;
	int rc = -1;

	if (ldap_url_parse(t->c->ldap.uri, &lud) != LDAP_URL_SUCCESS)
		return -1;
	if (strcasecmp(lud->lud_scheme, "ldapi") != 0) {
		snprintf(t->host, sizeof(t->host), "%s", lud->lud_host &&
		    *lud->lud_host ? lud->lud_host : "localhost");
		t->ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
		t->port = lud->lud_port ? lud->lud_port : t->ldaps ? 636 : 389;
		rc = 0;
	}
	ldap_free_urldesc(lud);
	return rc;
}

/* Connect one address within ldap.timeout; 0, or -1 with errno set. */
static int
connect_addr(struct target *t, const struct addrinfo *ai)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, e = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)
		e = errno;
	else {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)t->c->ldap.timeout * 1000) <= 0)
			e = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
	}
	if (e != 0) {
		close(fd);
		errno = e;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	t->fd = fd;
	return 0;
}

/* Resolve and connect; -1 after saying why it failed. */
static int
reach(struct target *t)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->host, port, &hints, &res)) != 0) {
		say(t, "the host name %s is not found (%s); check the host in "
		    "ldap.uri", t->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (connect_addr(t, ai) == 0)
			break;
		e = errno;
	}
	freeaddrinfo(res);
	if (ai != NULL)
		return 0;
	if (e == ECONNREFUSED)
		say(t, "%s port %d refuses the connection: no LDAP server "
		    "listens there; check the host and port in ldap.uri and "
		    "that the server is running", t->host, t->port);
	else if (e == ETIMEDOUT)
		say(t, "no answer from %s port %d within %ld s (ldap.timeout); "
		    "check the host and port in ldap.uri and the firewalls "
		    "between", t->host, t->port, t->c->ldap.timeout);
	else
		say(t, "cannot connect to %s port %d: %s; check ldap.uri",
		    t->host, t->port, strerror(e));
	return -1;
}

/* Wait for the server to say something; -1 after saying it did not. */
static int
await(struct target *t, const char *what)
{
	struct pollfd pfd = { t->fd, POLLIN, 0 };

	if (poll(&pfd, 1, (int)t->c->ldap.timeout * 1000) > 0)
		return 0;
	say(t, "%s port %d accepted the connection but did not answer %s "
	    "within %ld s (ldap.timeout); check that an LDAP server, not "
	    "another service, listens there", t->host, t->port, what,
	    t->c->ldap.timeout);
	return -1;
}

/* The StartTLS extended request (RFC 4511 section 4.14), message id 1. */
static int
starttls(struct target *t)
{
	static const unsigned char req[] = { 0x30, 0x1d, 0x02, 0x01, 0x01,
	    0x77, 0x18, 0x80, 0x16, '1', '.', '3', '.', '6', '.', '1', '.',
	    '4', '.', '1', '.', '1', '4', '6', '6', '.', '2', '0', '0', '3',
	    '7' };
	unsigned char res[512];
	ssize_t n;
	size_t i = 2;

	if (write(t->fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
	    await(t, "the StartTLS request") < 0)
		return -1;
	if ((n = read(t->fd, res, sizeof(res))) < 2 || res[0] != 0x30)
		return say(t, "%s port %d answered StartTLS with something "
		    "that is not LDAP; check the port in ldap.uri", t->host,
		    t->port), -1;
	if (res[1] & 0x80)
		i += res[1] & 0x7f;
	/* messageID (02 01 01), then extendedResp: 78 len 0a 01 code */
	i += 3;
	if (i + 1 < (size_t)n && (res[i + 1] & 0x80))
		i += res[i + 1] & 0x7f;
	i += 2;
	if (i + 2 < (size_t)n && res[i] == 0x0a && res[i + 1] == 0x01 &&
	    res[i + 2] == 0)
		return 0;
	return say(t, "the server at %s port %d refused StartTLS (%s); "
	    "configure TLS on the server (a certificate in "
	    "olcTLSCertificateFile), or use an ldaps:// URI", t->host, t->port,
	    i + 2 < (size_t)n && res[i] == 0x0a ?
	    ldap_err2string(res[i + 2]) : "no result code"), -1;
}

static void
name_str(X509_NAME *name, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

static void
time_str(const ASN1_TIME *tm, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	ASN1_TIME_print(b, tm);
	n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

/* The names a certificate carries: its DNS and IP subjectAltNames, else
 * its common name. */
static void
cert_names(X509 *cert, char *out, size_t len)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name,
	    NULL, NULL);
	const unsigned char *ip;
	char one[300];
	int i;

	out[0] = '\0';
	for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		one[0] = '\0';
		if (g->type == GEN_DNS)
			snprintf(one, sizeof(one), "DNS:%s",
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		else if (g->type == GEN_IPADD && g->d.iPAddress->length == 4) {
			ip = ASN1_STRING_get0_data(g->d.iPAddress);
			snprintf(one, sizeof(one), "IP:%u.%u.%u.%u", ip[0],
			    ip[1], ip[2], ip[3]);
		} else if (g->type == GEN_IPADD)
			snprintf(one, sizeof(one), "IP:(IPv6)");
		if (*one && *out)
			strncat(out, ", ", len - strlen(out) - 1);
		strncat(out, one, len - strlen(out) - 1);
	}
	GENERAL_NAMES_free(sans);
	if (*out == '\0') {
		snprintf(out, len, "only the subject ");
		name_str(X509_get_subject_name(cert), out + strlen(out),
		    len - strlen(out));
	}
}

/* Check the certificate the way libldap does; say what is wrong. */
static int
judge(struct target *t, SSL *ssl)
{
	X509 *cert = SSL_get_peer_certificate(ssl);
	long vr = SSL_get_verify_result(ssl);
	char subj[512], iss[512], when[64], names[1024], name[256];
	const char *ca = *t->c->ldap.ca_file ? t->c->ldap.ca_file :
	    "(the system's default)";
	int named;

	if (cert == NULL)
		return say(t, "the server at %s port %d sent no certificate",
		    t->host, t->port);
	name_str(X509_get_subject_name(cert), subj, sizeof(subj));
	name_str(X509_get_issuer_name(cert), iss, sizeof(iss));
	/* for "localhost" libldap checks this machine's name */
	if (strcasecmp(t->host, "localhost") != 0 ||
	    gethostname(name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "%s", t->host);
	named = X509_check_host(cert, name, 0, 0, NULL) == 1 ||
	    X509_check_ip_asc(cert, name, 0) == 1;
	if (vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	    vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	    vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	    vr == X509_V_ERR_CERT_UNTRUSTED)
		say(t, "TLS: the server's certificate is not trusted: subject "
		    "\"%s\", issued by \"%s\", which is not a CA in "
		    "ldap.ca_file %s; set ldap.ca_file to a file holding the "
		    "certificate of \"%s\"", subj, iss, ca, iss);
	else if (vr == X509_V_ERR_CERT_HAS_EXPIRED) {
		time_str(X509_get0_notAfter(cert), when, sizeof(when));
		say(t, "TLS: the server's certificate (subject \"%s\", issuer "
		    "\"%s\") expired on %s; renew it on the server", subj, iss,
		    when);
	} else if (vr == X509_V_ERR_CERT_NOT_YET_VALID) {
		time_str(X509_get0_notBefore(cert), when, sizeof(when));
		say(t, "TLS: the server's certificate (subject \"%s\") is not "
		    "valid before %s; check the clocks of the server and this "
		    "machine", subj, when);
	} else if (vr != X509_V_OK)
		say(t, "TLS: the server's certificate (subject \"%s\", issuer "
		    "\"%s\") is refused: %s; check ldap.ca_file %s", subj, iss,
		    X509_verify_cert_error_string(vr), ca);
	else if (!named) {
		cert_names(cert, names, sizeof(names));
		X509_NAME_oneline(X509_get_subject_name(cert), subj,
		    sizeof(subj));
		say(t, "TLS: the server's certificate (%s) does not name %s, "
		    "%s; it names %s; use one of those names in ldap.uri, or "
		    "give the server a certificate for %s", subj, name,
		    strcmp(name, t->host) == 0 ? "the host in ldap.uri" :
		    "this machine's name, which libldap checks for localhost",
		    names, name);
	}
	X509_free(cert);
	return 0;
}

static int
handshake(struct target *t)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = { t->c->ldap.timeout, 0 };
	SSL *ssl = NULL;
	unsigned long e;

	if (ctx == NULL)
		return 0;
	if (*t->c->ldap.ca_file)
		(void)SSL_CTX_load_verify_locations(ctx, t->c->ldap.ca_file,
		    NULL);
	else
		(void)SSL_CTX_set_default_verify_paths(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(ctx)) != NULL && SSL_set_fd(ssl, t->fd) == 1) {
		if (strspn(t->host, "0123456789.:") != strlen(t->host))
			SSL_set_tlsext_host_name(ssl, t->host);
		if (SSL_connect(ssl) == 1)
			judge(t, ssl);
		else {
			e = ERR_peek_last_error();
			say(t, "TLS handshake with %s port %d failed: %s; check "
			    "that the port in ldap.uri speaks %s", t->host,
			    t->port, e ? ERR_reason_error_string(e) :
			    "no answer within ldap.timeout", t->ldaps ?
			    "TLS from the first byte (ldaps)" : "LDAP");
		}
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return 0;
}

/* Without TLS: does the server answer an anonymous bind (no credentials)? */
static int
answers(struct target *t)
{
	static const unsigned char bind[] = { 0x30, 0x0c, 0x02, 0x01, 0x01,
	    0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00 };

	if (write(t->fd, bind, sizeof(bind)) != (ssize_t)sizeof(bind))
		return 0;
	(void)await(t, "a bind request");
	return 0;
}

int
probe_ldap(const struct rs_config *c, char *msg, size_t len)
{
	struct target t;

	memset(&t, 0, sizeof(t));
	t.c = c;
	t.fd = -1;
	t.msg = msg;
	t.len = len;
	msg[0] = '\0';
	if (parse_uri(&t) < 0 || reach(&t) < 0)
		return 0;
	if (t.ldaps || (c->ldap.starttls && starttls(&t) == 0))
		handshake(&t);
	else if (!c->ldap.starttls)
		answers(&t);
	close(t.fd);
	return 0;
}
