#ifndef MS_VERSION_H
#define MS_VERSION_H

#include <stdio.h>

/* multisync's version: the one place it is written. debian/changelog's top
 * entry must say the same (a test checks). */
#define MS_VERSION "0.9.0"

/* "PROG 0.9.0" and the versions of the libraries it runs with, on f. */
void ms_version_print(const char *prog, FILE *f);

#endif
