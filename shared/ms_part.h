/*
 * ms_part.h - which part of its project a task copies, as a person reads
 * it in a log line or in `status`: the master (ms_label.h) and the worker
 * (ms_rsync_task_part) name a chunk the same way.
 */
#ifndef MS_PART_H
#define MS_PART_H

#include <stddef.h>
#include <stdint.h>

/*
 * The label of a task's part into out: for a chunk of n entries or name
 * patterns (n > 0), "sub/first" (just "first" when sub is NULL or "") and,
 * when n > 1, " +N" for the N others; "rest" for the rest of a split
 * project (rest != 0); "" for a whole project. Raw bytes: make it safe
 * before it reaches a log or JSON. Returns out.
 */
const char *ms_part_label(const char *sub, const char *first, uint32_t n, int rest, char *out,
                          size_t outlen);

#endif
