/*
 * unit.h - shared helpers for relaysync's cmocka unit tests.
 *
 * write_tmp() writes text to a new temporary file and returns its path
 * (the caller frees it); test_config() loads a configuration made of the
 * minimal required keys plus extra YAML, with the repository's OpenLDAP
 * mapping (SRCDIR is set by the Makefile).
 */
#ifndef RS_UNIT_H
#define RS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static inline char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/relaysync-unit.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static inline int
test_config(struct rs_config *c, const char *extra, struct rs_err *err)
{
	char text[8192];
	char *path;
	int rc;

	snprintf(text, sizeof(text),
	    "ldap:\n  uri: ldaps://ldap.example.com\n"
	    "  base_dn: dc=example,dc=com\n"
	    "mapping: %s/mappings/openldap.yaml\n%s", SRCDIR, extra);
	path = write_tmp(text);
	rc = config_load(path, c, err);
	unlink(path);
	free(path);
	return rc;
}

#endif
