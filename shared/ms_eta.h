/*
 * ms_eta.h - how far a run is and when it will end, from its tasks: pure
 * arithmetic (no clock, no I/O), fed one task at a time.
 *
 * The work is what rsync still has to examine and transfer. A task skipped
 * as unchanged (no rsync: README "Quiet nights") is no work: it counts in
 * neither the total, nor what was done, nor the rate, so that a quiet
 * night's many unchanged projects do not make the ETA of its one changed
 * project look like a second.
 *
 * The ETA is the work left at the rate seen so far, and never less than
 * what a running task still needs: one that took 60 s last time and has
 * run 10 s needs 50 s more, whatever the rate of the others; one that has
 * run MS_ETA_OWN_RATE_S or more needs its bytes left at its own rate. (A
 * running task's bytes come in every few seconds: before that, its own
 * rate is mostly the lag of those reports.)
 *
 * Usage: ms_eta_t e; ms_eta_init(&e); ms_eta_add(&e, &task) for each task;
 * then ms_eta_percent, ms_eta_rate, ms_eta_seconds.
 */
#ifndef MS_ETA_H
#define MS_ETA_H

#include <stddef.h>
#include <stdint.h>

#define MS_ETA_OWN_RATE_S 10.0

typedef enum {
    MS_ETA_PENDING, /* not started: all its bytes are still to do */
    MS_ETA_RUNNING,
    MS_ETA_DONE,    /* ended (ok or failed): done is what it examined */
    MS_ETA_SKIPPED, /* unchanged, or sure to be: no work */
} ms_eta_state_t;

typedef struct {
    ms_eta_state_t state;
    int size_known;    /* size is known (the walk, or the last run) */
    uint64_t size;     /* bytes it has to examine and transfer */
    uint64_t done;     /* running: bytes done so far; done: bytes it examined */
    double elapsed_s;  /* running: for how long */
    double expected_s; /* how long it took last time; <= 0: not known */
} ms_eta_task_t;

typedef struct {
    uint64_t total;   /* bytes of work in all, done included */
    uint64_t done;    /* bytes of work done */
    uint64_t skipped; /* bytes of the skipped tasks, in none of the above */
    size_t open;      /* tasks pending or running */
    int total_known;  /* every open task's size is known */
    double floor_s;   /* the longest a running task still needs */
} ms_eta_t;

void ms_eta_init(ms_eta_t *e);

/* Count task t in e. */
void ms_eta_add(ms_eta_t *e, const ms_eta_task_t *t);

/* Bytes of work done per second over work_s seconds of work; 0 when none. */
double ms_eta_rate(const ms_eta_t *e, double work_s);

/* Percent of the work done (0 to 100); -1 when the total is not known. A
 * run with no work left is at 100. */
double ms_eta_percent(const ms_eta_t *e);

/* Seconds until the work is done, after work_s seconds of work: the work
 * left at the rate so far, at least floor_s. 0 when nothing is left; -1
 * when not known (a size not known, or no rate yet with work left). */
double ms_eta_seconds(const ms_eta_t *e, double work_s);

#endif
