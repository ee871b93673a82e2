/*
 * relaysync - directory-driven per-user outbound gateways for Postfix.
 *
 * The command line: parses options, runs one command, maps its outcome to
 * the exit codes of enum rs_exit (util.h; relaysync(8) EXIT STATUS says
 * the same to users). The pipeline itself lives in the modules
 * (config, source, policy, render, plan, apply, report).
 */
#include <getopt.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "checkconf.h"
#include "config.h"
#include "explain.h"
#include "model.h"
#include "pipeline.h"
#include "plan.h"
#include "policy.h"
#include "postconf.h"
#include "render.h"
#include "report.h"
#include "secret.h"
#include "source.h"
#include "status.h"
#include "verify.h"
#include "watch.h"

#ifndef RELAYSYNC_VERSION
#define RELAYSYNC_VERSION "0.0.0"
#endif

#define DEFAULT_CONFIG "/etc/relaysync/relaysync.yaml"

enum { O_DRY = 1, O_FORMAT = 2, O_FORCE = 4, O_FULL = 8, O_VERIFY = 16,
	O_TIMEOUT = 32, O_PARALLEL = 64, O_SERVICE = 128, O_DIFF = 256 };

struct opts {
	const char *config;
	const char *command;
	const char *arg;	/* ADDRESS or DN, for verify and explain */
	const char *service;	/* --service NAME/TYPE */
	int given;		/* O_* options on the command line */
	struct rs_runopts run;
};

static const char usage_text[] =
    "usage: relaysync [--config FILE] [--verbose|--quiet] COMMAND\n"
    "commands:\n"
    "  sync [--dry-run] [--diff] [--format text|json] [--force] [--full] "
    "[--verify]\n"
    "                   read the directory, write the Postfix tables, "
    "reload\n"
    "                   (--diff: the table lines that change, passwords "
    "masked)\n"
    "  verify [ADDRESS] [--format text|json] [--timeout S] [--parallel N]\n"
    "                   connect, TLS, EHLO and AUTH to each accepted "
    "gateway\n"
    "  explain ADDRESS|DN [--format text|json]\n"
    "                   the policy chain and every send-as verdict of a "
    "user\n"
    "  watch [--force]  stay connected and apply each directory change "
    "within a second\n"
    "  check-config [--service NAME/TYPE]\n"
    "                   validate configuration and mapping, test the "
    "LDAP bind,\n"
    "                   compare the live Postfix configuration with "
    "postfix-config\n"
    "  postfix-config [--service NAME/TYPE]\n"
    "                   print the Postfix settings to apply, as postconf "
    "commands\n"
    "                   (the service where users authenticate: default "
    "submission/inet)\n"
    "  encrypt-secret ADDRESS\n"
    "                   read a password on standard input, print its "
    "{AES256-GCM} value\n"
    "                   for the send-as entry of ADDRESS (bound to it)\n"
    "  status [--format text|json]\n"
    "                   the last run, the live generation, routes, "
    "rejections,\n"
    "                   the next timer run and any hold (no directory "
    "needed)\n"
    "  rollback         make the previous generation live again and hold "
    "syncs\n"
    "  resume           let syncs change the tables again after a "
    "rollback\n"
    "options: --config FILE (default " DEFAULT_CONFIG "), --verbose, "
    "--quiet,\n         --version, --help\n"
    "exit: 0 ok, 2 dry run with changes, 1 failure, 64 usage, 69 directory "
    "unavailable,\n      73 cannot write tables, 75 refused or locked, 78 "
    "configuration error\n";

static int
usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "relaysync: %s\n", msg);
	fputs(usage_text, stderr);
	return RS_EX_USAGE;
}

/* The configuration and the key ring every directory command needs. */
static int
load_config(const struct opts *o, struct rs_config *c, struct rs_keyring *k)
{
	struct rs_err err;

	memset(k, 0, sizeof(*k));
	if (config_load(o->config, c, &err) < 0 ||
	    keyring_load(c->secrets.key_file, 1, k, &err) < 0)
		return rs_fail(&err);
	return 0;
}

/* Read the directory and decide (gated: as sync would; ungated: the
 * candidates a gateway check looks at). The model outlives the decision. */
static int
load_decision(const struct opts *o, int gated, struct rs_config *c,
    struct rs_keyring *k, struct rs_model *m, struct rs_decision *d)
{
	struct rs_err err;
	int rc;

	memset(d, 0, sizeof(*d));
	model_init(m);
	if ((rc = load_config(o, c, k)) != 0)
		return rc;
	if (pipeline_read(o->run.dir, c, m, &err) < 0)
		return rs_fail(&err);
	if ((gated ? pipeline_decide(c, k, m, d, &err) :
	    pipeline_candidates(c, k, m, d, &err)) < 0)
		return rs_fail(&err);
	return 0;
}

static void
unload(struct rs_config *c, struct rs_keyring *k, struct rs_model *m,
    struct rs_decision *d)
{
	policy_free(d);
	model_free(m);
	keyring_free(k);
	config_free(c);
}

static int
cmd_sync(const struct opts *o)
{
	struct rs_keyring keys;
	struct rs_config c;
	int rc;

	if ((rc = load_config(o, &c, &keys)) == 0)
		rc = pipeline_sync(&o->run, &c, &keys);
	keyring_free(&keys);
	config_free(&c);
	return rc;
}

static int
cmd_verify(const struct opts *o)
{
	const struct rs_verdict **sel;
	struct rs_config c;
	struct rs_keyring keys;
	struct rs_model m;
	struct rs_decision d;
	struct rs_err err;
	size_t i, n = 0;
	int rc;

	if ((rc = load_decision(o, 0, &c, &keys, &m, &d)) != 0) {
		unload(&c, &keys, &m, &d);
		return rc;
	}
	sel = xcalloc(d.nroutes ? d.nroutes : 1, sizeof(*sel));
	for (i = 0; i < d.nroutes; i++)
		if (o->arg == NULL ||
		    strcasecmp(o->arg, d.routes[i]->route.address) == 0)
			sel[n++] = d.routes[i];
	if (o->arg && n == 0) {
		rs_err_set(&err, RS_EX_FAIL, "%s has no accepted route; "
		    "relaysync sync --dry-run says why", o->arg);
		rc = rs_fail(&err);
	} else if ((rc = pipeline_check(&o->run, &c, sel, n, stdout, &err)) < 0)
		rc = rs_fail(&err);
	else
		rc = rc ? RS_EX_FAIL : RS_EX_OK;
	free(sel);
	unload(&c, &keys, &m, &d);
	return rc;
}

static int
cmd_explain(const struct opts *o)
{
	struct rs_config c;
	struct rs_keyring keys;
	struct rs_model m;
	struct rs_decision d;
	int rc;

	if ((rc = load_decision(o, 1, &c, &keys, &m, &d)) == 0)
		rc = explain(stdout, o->run.format, &c, &m, &d, o->arg);
	unload(&c, &keys, &m, &d);
	return rc;
}

static int
cmd_watch(const struct opts *o)
{
	return watch_run(o->config, &o->run);
}

/* The configuration alone (commands that need no key and no directory). */
static int
config_only(const struct opts *o, struct rs_config *c)
{
	struct rs_err err;

	return config_load(o->config, c, &err) < 0 ? rs_fail(&err) : 0;
}

static int
cmd_check_config(const struct opts *o)
{
	struct rs_config c;
	int rc;

	if ((rc = config_only(o, &c)) == 0) {
		config_print(&c, stdout);
		rc = checkconf_run(&c, o->service, stdout);
	}
	config_free(&c);
	return rc;
}

static int
cmd_postfix_config(const struct opts *o)
{
	struct rs_pf_set set;
	struct rs_config c;
	struct rs_err err;
	int rc;

	if (config_load(o->config, &c, &err) < 0) {
		config_free(&c);
		return rs_fail(&err);
	}
	if ((rc = postconf_prescribe(&c, o->service, &set, &err)) == 0)
		postconf_print(&set, c.postfix.config_dir, stdout);
	postconf_set_free(&set);
	config_free(&c);
	return rc < 0 ? rs_fail(&err) : RS_EX_OK;
}

static int
read_password(struct buf *pw)
{
	struct termios old, quiet;
	int tty = isatty(0), c;

	if (tty) {	/* echo off first: TCSAFLUSH drops what was typed */
		tcgetattr(0, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
		fputs("Password: ", stderr);
	}
	while ((c = getchar()) != EOF && c != '\n')
		buf_addc(pw, (char)c);
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (pw->len && pw->data[pw->len - 1] == '\r')
		pw->data[--pw->len] = '\0';
	return pw->len ? 0 : -1;
}

static int
cmd_encrypt_secret(const struct opts *o)
{
	struct rs_keyring keys;
	struct rs_config c;
	struct rs_err err;
	struct buf pw, out;
	const char *why;
	int rc = -1;

	buf_init(&pw);
	buf_init(&out);
	if (config_load(o->config, &c, &err) < 0 ||
	    keyring_load(c.secrets.key_file, 0, &keys, &err) < 0) {
		config_free(&c);
		return rs_fail(&err);
	}
	if (valid_address(o->arg, strlen(o->arg), &why) < 0)
		rs_err_set(&err, RS_EX_USAGE, "%s: %s; give the send-as address "
		    "the password is for", o->arg, why);
	else if (read_password(&pw) < 0)
		rs_err_set(&err, RS_EX_USAGE, "no password on standard input");
	else if (valid_password(pw.data, pw.len, &why) < 0)
		rs_err_set(&err, RS_EX_USAGE, "%s", why);
	else
		rc = secret_encrypt(&keys, o->arg, pw.data, pw.len, &out,
		    &err);
	if (rc == 0)
		printf("%s\n", out.data);
	buf_wipe(&pw);
	buf_free(&out);
	keyring_free(&keys);
	config_free(&c);
	return rc < 0 ? rs_fail(&err) : RS_EX_OK;
}

static int
cmd_status(const struct opts *o)
{
	struct rs_config c;
	int rc;

	if ((rc = config_only(o, &c)) == 0)
		rc = status_show(&c, o->run.format, stdout);
	config_free(&c);
	return rc;
}

static int
cmd_rollback(const struct opts *o)
{
	struct rs_config c;
	int rc;

	if ((rc = config_only(o, &c)) == 0)
		rc = pipeline_rollback(&c, o->run.installer);
	config_free(&c);
	return rc;
}

static int
cmd_resume(const struct opts *o)
{
	struct rs_config c;
	int rc;

	if ((rc = config_only(o, &c)) == 0)
		rc = pipeline_unhold(&c);
	config_free(&c);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(const struct opts *);
	int options;		/* the O_* options it takes */
	int args;		/* 0: none, 1: optional, 2: required */
} commands[] = {
	{ "sync", cmd_sync, O_DRY | O_DIFF | O_FORMAT | O_FORCE | O_FULL |
	    O_VERIFY | O_TIMEOUT | O_PARALLEL, 0 },
	{ "verify", cmd_verify, O_FORMAT | O_TIMEOUT | O_PARALLEL, 1 },
	{ "explain", cmd_explain, O_FORMAT, 2 },
	{ "watch", cmd_watch, O_FORCE, 0 },
	{ "check-config", cmd_check_config, O_SERVICE, 0 },
	{ "postfix-config", cmd_postfix_config, O_SERVICE, 0 },
	{ "encrypt-secret", cmd_encrypt_secret, 0, 2 },
	{ "status", cmd_status, O_FORMAT, 0 },
	{ "rollback", cmd_rollback, 0, 0 },
	{ "resume", cmd_resume, 0, 0 },
};

/* An unknown command: say which it was and list the commands. */
static int
unknown(const char *command)
{
	size_t i;

	fprintf(stderr, "relaysync: unknown command '%s'; the commands are:",
	    command);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "%s %s", i ? "," : "", commands[i].name);
	fputs("\n", stderr);
	return usage(NULL);
}

static int
number(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "full", no_argument, NULL, 'u' },
		{ "verify", no_argument, NULL, 'y' },
		{ "timeout", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "service", required_argument, NULL, 's' },
		{ "diff", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:vqVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'v': rs_verbosity = RS_LOG_DEBUG; break;
		case 'q': rs_verbosity = RS_LOG_ERROR; break;
		case 'V': printf("relaysync %s\n", RELAYSYNC_VERSION); exit(0);
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'n': o->run.dry_run = 1; o->given |= O_DRY; break;
		case 'F': o->run.force = 1; o->given |= O_FORCE; break;
		case 'u': o->run.full = 1; o->given |= O_FULL; break;
		case 'd': o->run.diff = 1; o->given |= O_DIFF; break;
		case 's':
			o->given |= O_SERVICE;
			if (strchr(optarg, '/') == NULL || strchr(optarg, '\'')
			    || strpbrk(optarg, " \t\n") != NULL)
				return usage("--service takes NAME/TYPE, for "
				    "example submission/inet");
			o->service = optarg;
			break;
		case 'y': o->run.verify = 1; o->given |= O_VERIFY; break;
		case 't':
			o->given |= O_TIMEOUT;
			if (number(optarg, 1, 3600, &o->run.timeout) < 0)
				return usage("--timeout takes 1 to 3600 seconds");
			break;
		case 'p':
			o->given |= O_PARALLEL;
			if (number(optarg, 1, 1000, &o->run.parallel) < 0)
				return usage("--parallel takes 1 to 1000");
			break;
		case 'f':
			o->given |= O_FORMAT;
			if (strcmp(optarg, "json") == 0)
				o->run.format = RS_FMT_JSON;
			else if (strcmp(optarg, "text") != 0)
				return usage("--format takes text or json");
			break;
		default:
			return usage(NULL);
		}
	}
	if (optind >= argc)
		return usage("no command given");
	if (argc - optind > 2)
		return usage("too many arguments");
	o->command = argv[optind];
	o->arg = argc - optind == 2 ? argv[optind + 1] : NULL;
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { DEFAULT_CONFIG, NULL, NULL, NULL, 0,
	    { &source_ldap, &installer_postfix, 0, 0, 0, 0, 10, 20,
	    RS_FMT_TEXT, 0, 0 } };
	struct rlimit nocore = { 0, 0 };
	size_t i;
	int rc;

	/* No core file full of secrets, not even through a piped
	 * core_pattern (which ignores RLIMIT_CORE), and no ptrace or
	 * /proc/<pid>/mem reading by other processes of the same user. */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	rs_log_open();
	if ((rc = parse(argc, argv, &o)) != 0)
		return rc;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(o.command, commands[i].name) != 0)
			continue;
		if (o.given & ~commands[i].options)
			return usage("an option given does not go with this "
			    "command");
		if (o.run.diff && o.run.format == RS_FMT_JSON)
			return usage("--diff prints text; it does not go with "
			    "--format json");
		if ((o.arg != NULL && commands[i].args == 0) ||
		    (o.arg == NULL && commands[i].args == 2))
			return usage(o.arg ? "this command takes no argument" :
			    "this command needs an argument");
		return commands[i].run(&o);
	}
	return unknown(o.command);
}
