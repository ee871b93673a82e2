/*
 * libFuzzer target: the configuration loader and the mapping loader on
 * arbitrary YAML. Both must either load or fail with RS_EX_CONFIG and a
 * message; nothing else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct rs_config c;
	struct rs_mapping m;
	struct rs_err err;
	FILE *fp;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/relaysync-fuzz-%d.yaml",
		    (int)getpid());
	if ((fp = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	err.code = 0;
	if (config_load(path, &c, &err) < 0 && err.code != RS_EX_CONFIG)
		abort();
	config_free(&c);
	err.code = 0;
	if (mapping_load(path, &m, &err) < 0 && err.code != RS_EX_CONFIG)
		abort();
	mapping_free(&m);
	unlink(path);
	return 0;
}
