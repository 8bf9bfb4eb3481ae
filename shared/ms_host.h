/*
 * ms_host.h - host-wide counters, as psutil reports them, read from /proc
 * and /sys: CPU (whole host and per core), load, memory, disk and network.
 *
 * Lifecycle: ms_host_new() keeps the two roots and allocates its buffers;
 * each ms_host_sample() reads every file once, returns the counters as read
 * and the rates over the interval since the previous successful call, and
 * keeps what it read as the baseline of the next call; ms_host_destroy()
 * frees it all. A handle holds no file open between calls. It is not
 * thread-safe: one handle per thread.
 *
 * What counts:
 *   - CPU: the "cpu" line of /proc/stat for the host, "cpuN" for core N.
 *     busy = total - idle - iowait; guest and guest_nice are left out of the
 *     total because the kernel already counts them in user and nice (as
 *     psutil does). Each field's delta is taken on its own and a field that
 *     went backwards (iowait does, see proc(5)) contributes 0.
 *   - Disks: a /proc/diskstats name is a whole disk when sys_block/<name>
 *     exists ('/' in the name read as '!', as sysfs spells it), except
 *       loop*, ram*, zram*  (their I/O is a file on another disk, or memory)
 *       stacked devices, whose sys_block/<name>/slaves is not empty (dm-*,
 *       md*: their I/O is counted again on the disks below them).
 *     This differs from psutil, which adds those too and so counts an LVM
 *     write twice. Partitions (vda1, nvme0n1p2) are never in sys_block.
 *   - Network: every interface of /proc/net/dev except "lo".
 *   - Rates are summed per device over the devices present in both samples:
 *     a device that appears has no baseline and a device that disappears has
 *     no new value, so neither contributes; a counter that went backwards
 *     (wrap, reset) contributes 0, never a negative or a huge rate.
 */
#ifndef MS_HOST_H
#define MS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_HOST_MAX_CPUS 1024
#define MS_HOST_NAME_MAX 32 /* device names: the kernel's DISK_NAME_LEN */

/*
 * Largest file read: a file that does not fit is cut at its last complete
 * line. /proc/stat of a 1024-core host is ~150 KiB; 4 MiB leaves room for
 * tens of thousands of devices or interfaces.
 */
#define MS_HOST_READ_MAX ((size_t)4 * 1024 * 1024)

typedef struct {
    /* cumulative counters since boot (as read) */
    uint64_t disk_read_bytes, disk_write_bytes; /* whole disks: sectors * 512 */
    uint64_t disk_busy_ms;                      /* whole disks: sum of io_ticks */
    uint64_t net_sent_bytes, net_recv_bytes;    /* every interface but lo */
    /* instantaneous */
    double load1, load5, load15;                 /* /proc/loadavg */
    uint64_t mem_total, mem_available, mem_used; /* bytes; used = total - available */
    /* over the interval since the previous sample (0 on the first sample) */
    double interval_s;
    double cpu_percent; /* whole host, 0..100 */
    /*
     * 1 + the highest N of the cpuN lines (at most MS_HOST_MAX_CPUS; cores
     * numbered beyond are ignored). The kernel lists online cores only, so
     * with a core offline this is more than the number of lines.
     */
    unsigned n_cpus;
    /*
     * core_percent[N] is core N, 0..100 rounded; 0 for a core missing from
     * either sample (offline, just plugged in) and for N >= n_cpus.
     */
    uint8_t core_percent[MS_HOST_MAX_CPUS];
    double iowait_percent; /* share of the host's CPU time in iowait, 0..100 */
    double disk_read_bps, disk_write_bps;
    /* 100 * io_ticks delta / (interval * whole disks in both samples), <= 100 */
    double disk_busy_percent;
    double net_sent_bps, net_recv_bps;
} ms_host_sample_t;

typedef struct ms_host ms_host_t;

/*
 * proc_root is "/proc" and sys_block "/sys/block" on a live host; tests pass
 * fixture directories. Both strings are copied. Fails (NULL, message in err)
 * when proc_root/stat cannot be read or a root is too long.
 */
ms_host_t *ms_host_new(const char *proc_root, const char *sys_block, char *err, size_t errlen);

/*
 * Read every file and fill *out (see ms_host_sample_t), the interval measured
 * with CLOCK_MONOTONIC. Returns 0, or -1 with a message in err naming the
 * file; on failure the previous baseline stays, so the next successful call
 * spans both intervals.
 */
int ms_host_sample(ms_host_t *h, ms_host_sample_t *out, char *err, size_t errlen);

/*
 * ms_host_sample() with the clock given: now_s is a CLOCK_MONOTONIC reading
 * in seconds (tests pass round numbers to get exact rates). When now_s is not
 * after the previous call's, the interval and the byte rates are 0; the CPU
 * percentages, which come from jiffies, are still computed.
 */
int ms_host_sample_at(ms_host_t *h, double now_s, ms_host_sample_t *out, char *err, size_t errlen);

/* Free the handle and set *h to NULL. Accepts NULL and a NULL *h. */
void ms_host_destroy(ms_host_t **h);

/*
 * The pure parsers, used by ms_host_sample() and exposed for tests and
 * fuzzing. Each takes a NUL-terminated text, never reads past its NUL, and
 * skips a malformed line (a missing or non-numeric field, a number above
 * 2^64-1, a name too long) instead of guessing. None of them allocates.
 */

/* The fields of a cpu line of /proc/stat, in jiffies (USER_HZ ticks). */
enum {
    MS_CPU_USER,
    MS_CPU_NICE,
    MS_CPU_SYSTEM,
    MS_CPU_IDLE,
    MS_CPU_IOWAIT,
    MS_CPU_IRQ,
    MS_CPU_SOFTIRQ,
    MS_CPU_STEAL,
    MS_CPU_GUEST,      /* already counted in USER */
    MS_CPU_GUEST_NICE, /* already counted in NICE */
    MS_CPU_FIELDS
};

typedef struct {
    bool present;              /* the line was there and well formed */
    uint64_t t[MS_CPU_FIELDS]; /* fields a kernel does not list are 0 */
} ms_host_cpu_t;

typedef struct {
    ms_host_cpu_t total;                  /* the "cpu" line */
    ms_host_cpu_t core[MS_HOST_MAX_CPUS]; /* core[N] from "cpuN" */
    unsigned n_cpus;                      /* 1 + highest N stored, 0 if none */
} ms_host_stat_t;                         /* ~90 KiB: allocate it */

/*
 * /proc/stat. A cpu line needs at least 4 numbers (user nice system idle);
 * numbers past the 10th are ignored. Cores numbered MS_HOST_MAX_CPUS or more
 * are skipped, and so is a repeated line. Returns 0, or -1 (errno EINVAL)
 * when there is no well-formed "cpu" line; *out is filled either way.
 */
int ms_host_parse_stat(const char *text, ms_host_stat_t *out);

typedef struct {
    char name[MS_HOST_NAME_MAX];
    uint64_t read_sectors, write_sectors; /* 512-byte units, whatever the device */
    uint64_t io_ticks;                    /* ms spent doing I/O (field 13) */
} ms_host_disk_t;

/*
 * /proc/diskstats: every well-formed line (at least 14 fields: major, minor,
 * name and 11 counters), partitions and virtual devices included. Stores the
 * first cap entries in disks and sets *n to the number of well-formed lines,
 * which may be more than cap (call again with room for *n). Returns 0, or -1
 * (EINVAL) for a NULL text, n, or disks with cap > 0.
 */
int ms_host_parse_diskstats(const char *text, ms_host_disk_t *disks, size_t cap, size_t *n);

typedef struct {
    char name[MS_HOST_NAME_MAX];
    uint64_t recv_bytes, sent_bytes;
} ms_host_netif_t;

/*
 * /proc/net/dev: "name: 16 numbers" lines, lo included; the two header
 * lines are skipped. Same contract for cap and *n as ms_host_parse_diskstats.
 */
int ms_host_parse_netdev(const char *text, ms_host_netif_t *ifs, size_t cap, size_t *n);

typedef struct {
    uint64_t total, available; /* bytes */
} ms_host_mem_t;

/*
 * /proc/meminfo: MemTotal and MemAvailable, in kB in the file. Before Linux
 * 3.14 there is no MemAvailable: available is then MemFree + Buffers +
 * Cached. available is capped at total. Returns 0, or -1 (EINVAL) without
 * MemTotal or an estimate.
 */
int ms_host_parse_meminfo(const char *text, ms_host_mem_t *out);

/*
 * /proc/loadavg: the three averages ("0.42 0.31 0.27 1/116 6852"), read
 * without strtod (no locale, no "nan"). Returns 0, or -1 (EINVAL).
 */
int ms_host_parse_loadavg(const char *text, double load[3]);

#endif
