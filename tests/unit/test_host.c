/*
 * test_host.c - host counters: the parsers on files captured from a real
 * host, two samples over hand-edited fixtures with known deltas, devices and
 * cpus that come and go, garbage, and the live /proc and /sys.
 *
 * tests/fixtures/host/a is a capture; b is a copy edited by hand (see the
 * README there): cpu0 +600 user +300 idle +100 iowait, cpu1 +50 user (+50
 * guest) +950 idle; vda +2048 sectors read, +4096 written, +500 ms busy;
 * eth0 +12345 bytes in, +6789 out; lo +10^15 both ways; the partition vda1,
 * the stacked dm-0, loop0 and zram0 move too but must not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_host.h"

#define FIX "tests/fixtures/host"
#define KB 1024ull
#define MB (1024ull * 1024)

/* ---- helpers ----------------------------------------------------------- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    size_t n = 0;

    if (f == NULL)
        fail_msg("cannot open fixture %s (run from the repo root)", path);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    assert_true(n > 0);
    fclose(f);
    return buf;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

/* A proc and sys/block tree under dir with one of everything, to be edited. */
static void make_root(const char *dir)
{
    make_dir(dir, "proc");
    make_dir(dir, "proc/net");
    make_dir(dir, "sys");
    make_dir(dir, "sys/block");
    write_file(dir, "proc/stat", "cpu  1 0 1 8\ncpu0 1 0 1 8\n");
    write_file(dir, "proc/diskstats", "");
    write_file(dir, "proc/net/dev", "");
    write_file(dir, "proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 500 kB\n");
    write_file(dir, "proc/loadavg", "0.00 0.01 0.05 1/80 1234\n");
}

static ms_host_t *open_root(const char *dir)
{
    char proc[PATH_MAX], sys[PATH_MAX], err[256] = "";
    ms_host_t *h;

    snprintf(proc, sizeof(proc), "%s/proc", dir);
    snprintf(sys, sizeof(sys), "%s/sys/block", dir);
    h = ms_host_new(proc, sys, err, sizeof(err));
    if (h == NULL)
        fail_msg("ms_host_new: %s", err);
    return h;
}

/* Make dir/root a symlink to fixture a or b (replaced atomically). */
static void point_at(const char *dir, const char *fixture)
{
    char rel[PATH_MAX], abs[PATH_MAX], tmp[PATH_MAX], link[PATH_MAX];

    snprintf(rel, sizeof(rel), FIX "/%s", fixture);
    if (realpath(rel, abs) == NULL)
        fail_msg("no fixture %s (run from the repo root)", rel);
    snprintf(tmp, sizeof(tmp), "%s/root.new", dir);
    snprintf(link, sizeof(link), "%s/root", dir);
    assert_int_equal(symlink(abs, tmp), 0);
    assert_int_equal(rename(tmp, link), 0);
}

static void sample_at(ms_host_t *h, double now, ms_host_sample_t *s)
{
    char err[256] = "";

    if (ms_host_sample_at(h, now, s, err, sizeof(err)) != 0)
        fail_msg("ms_host_sample_at: %s", err);
}

static int make_tmp(void **state)
{
    char *dir = strdup("/tmp/ms_host_test.XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL)
        return -1;
    *state = dir;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int rm_tmp(void **state)
{
    int rc = nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);

    free(*state);
    return rc;
}

/* ---- /proc/stat -------------------------------------------------------- */

static ms_host_stat_t *new_stat(void)
{
    ms_host_stat_t *st = malloc(sizeof(*st));

    assert_non_null(st);
    return st;
}

static void parse_stat_reads_the_total_and_every_core_of_a_captured_file(void **state)
{
    char *text = read_text(FIX "/a/proc/stat");
    ms_host_stat_t *st = new_stat();

    (void)state;
    assert_int_equal(ms_host_parse_stat(text, st), 0);
    assert_true(st->total.present);
    assert_int_equal(st->total.t[MS_CPU_USER], 82259);
    assert_int_equal(st->total.t[MS_CPU_IDLE], 594724);
    assert_int_equal(st->total.t[MS_CPU_IOWAIT], 1083);
    assert_int_equal(st->total.t[MS_CPU_STEAL], 141);
    assert_int_equal(st->n_cpus, 2);
    assert_int_equal(st->core[1].t[MS_CPU_USER], 46153);
    assert_int_equal(st->core[1].t[MS_CPU_SOFTIRQ], 220);
    assert_false(st->core[2].present);
    free(st);
    free(text);
}

static void parse_stat_numbers_cores_by_their_name_when_one_is_offline(void **state)
{
    ms_host_stat_t *st = new_stat();

    (void)state;
    /* a 2.6.0 kernel: four fields only */
    assert_int_equal(ms_host_parse_stat("cpu 3 0 3 6\ncpu0 1 0 1 2\ncpu2 2 0 2 4\n", st), 0);
    assert_int_equal(st->n_cpus, 3);
    assert_true(st->core[0].present);
    assert_false(st->core[1].present);
    assert_int_equal(st->core[2].t[MS_CPU_IDLE], 4);
    assert_int_equal(st->core[2].t[MS_CPU_IOWAIT], 0);
    free(st);
}

static void parse_stat_survives_2000_cpu_lines_and_skips_cores_past_the_maximum(void **state)
{
    size_t size = 2100 * 64, len;
    char *text = malloc(size);
    ms_host_stat_t *st = new_stat();

    (void)state;
    assert_non_null(text);
    len = (size_t)snprintf(text, size, "cpu  1 2 3 4 5 6 7 8 9 10\n");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(text + len, size - len, "cpu%d %d 0 0 100\n", i, i);
    snprintf(text + len, size - len, "cpu4294967296 1 2 3 4\ncpu99999999999999999999 1 2 3 4\n");
    assert_int_equal(ms_host_parse_stat(text, st), 0);
    assert_int_equal(st->n_cpus, MS_HOST_MAX_CPUS);
    assert_int_equal(st->core[MS_HOST_MAX_CPUS - 1].t[MS_CPU_USER], MS_HOST_MAX_CPUS - 1);
    assert_int_equal(st->total.t[MS_CPU_GUEST_NICE], 10);
    free(st);
    free(text);
}

static void parse_stat_refuses_text_without_a_well_formed_cpu_line(void **state)
{
    const char *bad[] = {
        "",
        "\n\n",
        "cpu 1 2 3\n",                      /* three fields */
        "cpu 1 2 x 4\n",                    /* not a number */
        "cpu 1 2 3 4x\n",                   /* trailing junk */
        "cpu -1 2 3 4\n",                   /* negative */
        "cpu +1 2 3 4\n",                   /* sign */
        "cpu 18446744073709551616 1 2 3\n", /* 2^64 */
        "cpux 1 2 3 4\n",                   /* not "cpu" */
        "cpu0 1 2 3 4\nintr 1 2 3 4\n",     /* cores but no total */
        "cpu  82259 0 19",                  /* truncated */
        "cpu\t1\t2\t3\r\n",                 /* \r is not a blank */
    };
    ms_host_stat_t *st = new_stat();

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(ms_host_parse_stat(bad[i], st), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(ms_host_parse_stat("cpu\t1\t2\t3\t4", st), 0); /* tabs, no newline */
    free(st);
}

static void parse_stat_skips_malformed_or_repeated_core_lines_and_keeps_the_rest(void **state)
{
    const char *text = "cpu 1 2 3 4\n"
                       "cpu0 1 2 3\n"
                       "cpu1 5 6 7 8 abc\n"
                       "cpu2 1 2 3 4\n"
                       "cpu2 9 9 9 9\n"
                       "cpu-1 1 2 3 4\n"
                       "cpu3 1 2 3 4 5 6 7 8 9 10 11 12\n";
    ms_host_stat_t *st = new_stat();

    (void)state;
    assert_int_equal(ms_host_parse_stat(text, st), 0);
    assert_int_equal(st->n_cpus, 4);
    assert_false(st->core[0].present);
    assert_false(st->core[1].present);
    assert_int_equal(st->core[2].t[MS_CPU_USER], 1);
    assert_int_equal(st->core[3].t[MS_CPU_GUEST_NICE], 10);
    free(st);
}

/* ---- /proc/diskstats and /proc/net/dev --------------------------------- */

static void parse_diskstats_reads_every_line_partitions_and_virtual_devices_included(void **state)
{
    char *text = read_text(FIX "/a/proc/diskstats");
    ms_host_disk_t d[16];
    size_t n = 0;

    (void)state;
    assert_int_equal(ms_host_parse_diskstats(text, d, 16, &n), 0);
    assert_int_equal(n, 12); /* loop0..7, vda, vda1, dm-0, zram0 */
    assert_string_equal(d[8].name, "vda");
    assert_int_equal(d[8].read_sectors, 6328922);
    assert_int_equal(d[8].write_sectors, 3731408);
    assert_int_equal(d[8].io_ticks, 16672);
    assert_string_equal(d[9].name, "vda1");
    assert_string_equal(d[11].name, "zram0");
    free(text);
}

static void parse_diskstats_counts_lines_past_the_array_so_the_caller_can_grow_it(void **state)
{
    char *text = read_text(FIX "/a/proc/diskstats");
    ms_host_disk_t d[4] = {[3] = {.name = "sentinel"}};
    size_t n = 0;

    (void)state;
    assert_int_equal(ms_host_parse_diskstats(text, NULL, 0, &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(ms_host_parse_diskstats(text, d, 3, &n), 0);
    assert_int_equal(n, 12);
    assert_string_equal(d[2].name, "loop2");
    assert_string_equal(d[3].name, "sentinel");
    assert_int_equal(ms_host_parse_diskstats(text, NULL, 3, &n), -1);
    free(text);
}

static void parse_diskstats_skips_short_non_numeric_and_oversized_lines(void **state)
{
    const char *text = "   3    1 hda1 1 2 3 4\n"                /* 2.6.0 partition line */
                       "   8    0 sda 1 2 x 4 5 6 7 8 9 10 11\n" /* not a number */
                       "   8    0 sda 1 2 3 4 5 6 7 8 9 10\n"    /* ten counters */
                       "   8    0 0123456789012345678901234567890123 1 2 3 4 5 6 7 8 9 10 11\n"
                       "   x    0 sdb 1 2 3 4 5 6 7 8 9 10 11\n" /* bad major */
                       "\n   \n"
                       "   8   16 sdb 1 2 3 4 5 6 7 8 9 10 11\n"; /* the good one */
    ms_host_disk_t d[8];
    size_t n = 0;

    (void)state;
    assert_int_equal(ms_host_parse_diskstats(text, d, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].name, "sdb");
    assert_int_equal(d[0].read_sectors, 3);
    assert_int_equal(d[0].write_sectors, 7);
    assert_int_equal(d[0].io_ticks, 10);
    assert_int_equal(ms_host_parse_diskstats("", d, 8, &n), 0);
    assert_int_equal(n, 0);
}

static void parse_netdev_reads_bytes_both_ways_of_every_interface(void **state)
{
    char *text = read_text(FIX "/a/proc/net/dev");
    ms_host_netif_t ifs[16];
    size_t n = 0;

    (void)state;
    assert_int_equal(ms_host_parse_netdev(text, ifs, 16, &n), 0);
    assert_int_equal(n, 8); /* lo ifb0 ifb1 eth0 msbr6570 msv6570h0..2 */
    assert_string_equal(ifs[0].name, "lo");
    assert_string_equal(ifs[3].name, "eth0");
    assert_int_equal(ifs[3].recv_bytes, 22431387);
    assert_int_equal(ifs[3].sent_bytes, 35594);
    assert_string_equal(ifs[7].name, "msv6570h2");
    free(text);
}

static void parse_netdev_skips_headers_and_malformed_lines(void **state)
{
    const char *text =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
        "  eth0  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"    /* no colon */
        "  eth0: 1 2 3\n"                                     /* truncated */
        "      : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"    /* no name */
        "  a name: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"  /* blank in name */
        "  eth0: 1 2 3 4 5 6 7 8 nine 10 11 12 13 14 15 16\n" /* not a number */
        "  0123456789012345678901234567890123: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "  eth1:4294967296 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"; /* 2.4 style, no \n */
    ms_host_netif_t ifs[4];
    size_t n = 0;

    (void)state;
    assert_int_equal(ms_host_parse_netdev(text, ifs, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ifs[0].name, "eth1");
    assert_int_equal(ifs[0].recv_bytes, 4294967296ull);
    assert_int_equal(ifs[0].sent_bytes, 9);
}

/* ---- /proc/meminfo and /proc/loadavg ----------------------------------- */

static void parse_meminfo_reads_total_and_available_in_bytes(void **state)
{
    char *text = read_text(FIX "/a/proc/meminfo");
    ms_host_mem_t mem;

    (void)state;
    assert_int_equal(ms_host_parse_meminfo(text, &mem), 0);
    assert_int_equal(mem.total, 24684084 * KB);
    assert_int_equal(mem.available, 24320304 * KB);
    free(text);
}

static void parse_meminfo_estimates_available_on_kernels_without_MemAvailable(void **state)
{
    ms_host_mem_t mem;

    (void)state;
    assert_int_equal(ms_host_parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
                                           "Cached: 300 kB\nSwapCached: 99999 kB\n",
                                           &mem),
                     0);
    assert_int_equal(mem.available, 420 * KB);
    assert_int_equal(ms_host_parse_meminfo("MemTotal: 1000 kB\nMemAvailable: 5000 kB\n", &mem), 0);
    assert_int_equal(mem.available, 1000 * KB); /* never more than total */
}

static void parse_meminfo_refuses_text_without_MemTotal_or_with_bad_values(void **state)
{
    const char *bad[] = {
        "",
        "MemAvailable: 10 kB\n",
        "MemTotal: 1000 kB\n", /* nothing for available */
        "MemTotal: x kB\nMemAvailable: 1 kB\n",
        "MemTotal: 1000 MB\nMemAvailable: 1 kB\n",              /* unit */
        "MemTotal: 1000\nMemAvailable: 1 kB\n",                 /* no unit */
        "MemTotal: 18014398509481984 kB\nMemAvailable: 1 kB\n", /* 2^54 kB overflows */
        "MemTotal 1000 kB\nMemAvailable: 1 kB\n",               /* no colon */
        "MemTotal: 1000 kB",                                    /* truncated */
    };
    ms_host_mem_t mem;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(ms_host_parse_meminfo(bad[i], &mem), -1);
        assert_int_equal(errno, EINVAL);
    }
}

static void parse_loadavg_reads_the_three_averages_exactly(void **state)
{
    double load[3];

    (void)state;
    assert_int_equal(ms_host_parse_loadavg("0.42 0.31 0.27 1/116 6852\n", load), 0);
    assert_true(load[0] == 0.42 && load[1] == 0.31 && load[2] == 0.27);
    assert_int_equal(ms_host_parse_loadavg("1024.00 7 0.5", load), 0);
    assert_true(load[0] == 1024.0 && load[1] == 7.0 && load[2] == 0.5);
}

static void parse_loadavg_refuses_garbage(void **state)
{
    const char *bad[] = {"",
                         "0.42 0.31\n",
                         "a b c\n",
                         "1. 2 3\n",
                         "-1 2 3",
                         "nan 1 2\n",
                         "1e3 1 2\n",
                         "0.42,0.31,0.27\n",
                         ".5 1 2",
                         "1 2 3x",
                         "99999999999999999999 1 2"};
    double load[3] = {7, 7, 7};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ms_host_parse_loadavg(bad[i], load), -1);
    assert_true(load[0] == 7); /* untouched on failure */
}

/* Every prefix of every fixture file, through every parser: no crash, no
 * sanitizer report, a definite answer. */
static void parsers_take_every_truncation_of_the_fixtures_without_crashing(void **state)
{
    static const char *files[] = {"stat", "diskstats", "net/dev", "meminfo", "loadavg"};
    ms_host_stat_t *st = new_stat();
    ms_host_disk_t d[4];
    ms_host_netif_t ifs[4];
    ms_host_mem_t mem;
    double load[3];
    size_t n = 0;
    int rc;

    (void)state;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[PATH_MAX], *text;

        snprintf(path, sizeof(path), FIX "/b/proc/%s", files[f]);
        text = read_text(path);
        for (size_t len = strlen(text) + 1; len-- > 0;) {
            text[len] = '\0';
            rc = ms_host_parse_stat(text, st);
            assert_true(rc == 0 || rc == -1);
            assert_true(st->n_cpus <= MS_HOST_MAX_CPUS);
            assert_int_equal(ms_host_parse_diskstats(text, d, 4, &n), 0);
            assert_int_equal(ms_host_parse_netdev(text, ifs, 4, &n), 0);
            rc = ms_host_parse_meminfo(text, &mem);
            assert_true(rc == 0 || rc == -1);
            rc = ms_host_parse_loadavg(text, load);
            assert_true(rc == 0 || rc == -1);
        }
        free(text);
    }
    free(st);
}

/* ---- sampling over the fixtures ---------------------------------------- */

static ms_host_t *open_fixture_root(const char *dir, const char *fixture)
{
    char proc[PATH_MAX], sys[PATH_MAX], err[256] = "";
    ms_host_t *h;

    point_at(dir, fixture);
    snprintf(proc, sizeof(proc), "%s/root/proc", dir);
    snprintf(sys, sizeof(sys), "%s/root/sys/block", dir);
    h = ms_host_new(proc, sys, err, sizeof(err));
    if (h == NULL)
        fail_msg("ms_host_new: %s", err);
    return h;
}

static void sample_from_fixture_a_then_b_gives_the_hand_made_deltas(void **state)
{
    ms_host_t *h = open_fixture_root(*state, "a");
    ms_host_sample_t s;

    sample_at(h, 100.0, &s);
    point_at(*state, "b");
    sample_at(h, 102.0, &s);

    assert_true(s.interval_s == 2.0);
    assert_true(s.cpu_percent == 32.5); /* 650 busy of 2000; guest is inside user */
    assert_true(s.iowait_percent == 5.0);
    assert_int_equal(s.n_cpus, 2);
    assert_int_equal(s.core_percent[0], 60);
    assert_int_equal(s.core_percent[1], 5);
    assert_true(s.disk_read_bps == 2048.0 * 512 / 2); /* vda only */
    assert_true(s.disk_write_bps == 4096.0 * 512 / 2);
    assert_true(s.disk_busy_percent == 25.0);   /* 500 ms of 2000, one disk */
    assert_true(s.net_recv_bps == 12345.0 / 2); /* lo's 10^15 left out */
    assert_true(s.net_sent_bps == 6789.0 / 2);

    assert_int_equal(s.disk_read_bytes, 6330970ull * 512);
    assert_int_equal(s.disk_write_bytes, 3735504ull * 512);
    assert_int_equal(s.disk_busy_ms, 17172);
    assert_int_equal(s.net_recv_bytes, 22443732ull + 11479 + 4683 + 3555 + 4683);
    assert_int_equal(s.net_sent_bytes, 42383ull + 10147 + 5610 + 4501 + 5320);
    assert_true(s.load1 == 1.5 && s.load5 == 0.75 && s.load15 == 0.25);
    assert_int_equal(s.mem_total, 24684084 * KB);
    assert_int_equal(s.mem_available, 20000000 * KB);
    assert_int_equal(s.mem_used, (24684084 - 20000000) * KB);
    ms_host_destroy(&h);
}

static void first_sample_gives_the_counters_as_read_and_zero_rates(void **state)
{
    ms_host_t *h = open_fixture_root(*state, "a");
    ms_host_sample_t s;

    sample_at(h, 100.0, &s);
    assert_int_equal(s.disk_read_bytes, 6328922ull * 512);
    assert_int_equal(s.disk_busy_ms, 16672);
    assert_int_equal(s.net_recv_bytes, 22431387ull + 11479 + 4683 + 3555 + 4683);
    assert_int_equal(s.n_cpus, 2);
    assert_true(s.load1 == 0.42);
    assert_true(s.interval_s == 0 && s.cpu_percent == 0 && s.iowait_percent == 0);
    assert_int_equal(s.core_percent[0], 0);
    assert_true(s.disk_read_bps == 0 && s.disk_busy_percent == 0 && s.net_recv_bps == 0);
    ms_host_destroy(&h);
}

static void counters_that_went_backwards_give_zero_rates_not_huge_ones(void **state)
{
    ms_host_t *h = open_fixture_root(*state, "b");
    ms_host_sample_t s;

    sample_at(h, 100.0, &s);
    point_at(*state, "a");
    sample_at(h, 101.0, &s);
    assert_true(s.interval_s == 1.0);
    assert_true(s.cpu_percent == 0 && s.iowait_percent == 0);
    assert_int_equal(s.core_percent[0], 0);
    assert_true(s.disk_read_bps == 0 && s.disk_write_bps == 0 && s.disk_busy_percent == 0);
    assert_true(s.net_recv_bps == 0 && s.net_sent_bps == 0);
    ms_host_destroy(&h);
}

static void a_sample_at_the_same_instant_gives_cpu_shares_but_no_byte_rates(void **state)
{
    ms_host_t *h = open_fixture_root(*state, "a");
    ms_host_sample_t s;

    sample_at(h, 100.0, &s);
    point_at(*state, "b");
    sample_at(h, 100.0, &s);
    assert_true(s.interval_s == 0);
    assert_true(s.cpu_percent == 32.5);
    assert_true(s.disk_read_bps == 0 && s.disk_busy_percent == 0 && s.net_recv_bps == 0);
    ms_host_destroy(&h);
}

/* ---- things that come and go ------------------------------------------- */

static void cpus_that_come_and_go_between_samples_read_zero_and_stay_in_bounds(void **state)
{
    size_t size = 2100 * 64, len;
    char *text = malloc(size);
    ms_host_sample_t s;
    ms_host_t *h;

    assert_non_null(text);
    make_root(*state);
    write_file(*state, "proc/stat", "cpu 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\ncpu3 0 0 0 0\n");
    h = open_root(*state);
    sample_at(h, 1.0, &s);
    assert_int_equal(s.n_cpus, 4);
    /* cpu1 goes offline, cpu2 and 4..1999 come online: > 64 KiB of text */
    len = (size_t)snprintf(text, size, "cpu 100 0 0 100\ncpu0 0 0 0 100\ncpu3 50 0 0 50\n");
    for (int i = 2; i < 2000; i++)
        if (i != 3)
            len += (size_t)snprintf(text + len, size - len, "cpu%d 1000000 0 0 1000000\n", i);
    write_file(*state, "proc/stat", text);
    sample_at(h, 2.0, &s);
    assert_int_equal(s.n_cpus, MS_HOST_MAX_CPUS);
    assert_true(s.cpu_percent == 50);
    assert_int_equal(s.core_percent[0], 0);
    assert_int_equal(s.core_percent[1], 0); /* gone */
    assert_int_equal(s.core_percent[2], 0); /* new: no baseline */
    assert_int_equal(s.core_percent[3], 50);
    assert_int_equal(s.core_percent[MS_HOST_MAX_CPUS - 1], 0);
    write_file(*state, "proc/stat", "cpu 200 0 0 300\ncpu0 100 0 0 200\n");
    sample_at(h, 3.0, &s);
    assert_int_equal(s.n_cpus, 1);
    assert_int_equal(s.core_percent[0], 50);
    assert_int_equal(s.core_percent[3], 0);
    ms_host_destroy(&h);
    free(text);
}

static void devices_that_come_and_go_give_no_rate_of_their_own(void **state)
{
    ms_host_sample_t s;
    ms_host_t *h;

    make_root(*state);
    make_dir(*state, "sys/block/vda");
    make_dir(*state, "sys/block/vdb");
    write_file(*state, "proc/diskstats", " 254 0 vda 0 0 100 0 0 0 100 0 0 100 0\n");
    write_file(*state, "proc/net/dev", "eth0: 1000 0 0 0 0 0 0 0 1000 0 0 0 0 0 0 0\n");
    h = open_root(*state);
    sample_at(h, 10.0, &s);
    write_file(*state, "proc/diskstats",
               " 254 0 vda 0 0 110 0 0 0 120 0 0 150 0\n"
               " 254 16 vdb 0 0 9999 0 0 0 9999 0 0 9999 0\n");
    write_file(*state, "proc/net/dev", "eth1: 77777 0 0 0 0 0 0 0 77777 0 0 0 0 0 0 0\n");
    sample_at(h, 11.0, &s);
    assert_true(s.disk_read_bps == 10 * 512.0);
    assert_true(s.disk_write_bps == 20 * 512.0);
    assert_true(s.disk_busy_percent == 5.0); /* 50 ms of 1000, vda alone */
    assert_true(s.net_recv_bps == 0 && s.net_sent_bps == 0);
    assert_int_equal(s.disk_read_bytes, (110 + 9999) * 512);
    assert_int_equal(s.net_recv_bytes, 77777);
    ms_host_destroy(&h);
}

static void a_file_longer_than_the_read_limit_is_cut_at_its_last_complete_line(void **state)
{
    size_t size = MS_HOST_READ_MAX + 4096, len;
    char *text = malloc(size);
    ms_host_sample_t s;
    ms_host_t *h;

    assert_non_null(text);
    make_root(*state);
    len = (size_t)snprintf(text, size, "cpu 1 0 1 8\ncpu0 1 0 1 8\n");
    while (len < MS_HOST_READ_MAX - 20) /* padding lines, as /proc/stat's intr */
        len += (size_t)snprintf(text + len, size - len, "intr 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    /* straddles the limit: read as "cpu7 1 2 3 4" it would look whole */
    snprintf(text + len, size - len, "cpu7 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n");
    write_file(*state, "proc/stat", text);
    h = open_root(*state);
    sample_at(h, 1.0, &s);
    assert_int_equal(s.n_cpus, 1);
    ms_host_destroy(&h);
    free(text);
}

static void sample_fails_naming_a_missing_file_and_keeps_the_baseline(void **state)
{
    char path[PATH_MAX], err[256] = "";
    ms_host_sample_t s;
    ms_host_t *h;

    make_root(*state);
    make_dir(*state, "sys/block/sda");
    write_file(*state, "proc/diskstats", "8 0 sda 0 0 0 0 0 0 0 0 0 0 0\n");
    h = open_root(*state);
    sample_at(h, 10.0, &s);
    snprintf(path, sizeof(path), "%s/proc/meminfo", (char *)*state);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ms_host_sample_at(h, 12.0, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    write_file(*state, "proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 500 kB\n");
    write_file(*state, "proc/diskstats", "8 0 sda 0 0 4000 0 0 0 0 0 0 0 0\n");
    sample_at(h, 14.0, &s);
    assert_true(s.interval_s == 4.0);
    assert_true(s.disk_read_bps == 1000 * 512.0);
    write_file(*state, "proc/loadavg", "garbage\n");
    assert_int_equal(ms_host_sample_at(h, 15.0, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "loadavg"));
    ms_host_destroy(&h);
}

/* ---- lifecycle --------------------------------------------------------- */

static void new_refuses_a_proc_root_without_stat_and_says_why(void **state)
{
    char err[256] = "";
    ms_host_t *h;

    (void)state;
    assert_null(ms_host_new("/nonexistent", "/sys/block", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/stat"));
    assert_null(ms_host_new(NULL, "/sys/block", err, sizeof(err)));
    assert_null(ms_host_new("/proc", NULL, NULL, 0)); /* no error buffer: fine */
    h = ms_host_new("/proc", "/sys/block", NULL, 0);
    assert_non_null(h);
    assert_int_equal(ms_host_sample(NULL, NULL, err, sizeof(err)), -1);
    ms_host_destroy(&h);
}

static void destroy_accepts_null_and_sets_the_pointer_to_null(void **state)
{
    ms_host_t *h = ms_host_new("/proc", "/sys/block", NULL, 0);

    (void)state;
    assert_non_null(h);
    ms_host_destroy(&h);
    assert_null(h);
    ms_host_destroy(&h);
    ms_host_destroy(NULL);
}

/* ---- the live host ----------------------------------------------------- */

static void live_samples_200ms_apart_are_sane(void **state)
{
    struct timespec pause = {0, 200 * 1000 * 1000};
    char err[256] = "";
    ms_host_t *h = ms_host_new("/proc", "/sys/block", err, sizeof(err));
    ms_host_sample_t s;
    long conf = sysconf(_SC_NPROCESSORS_CONF), onln = sysconf(_SC_NPROCESSORS_ONLN);

    (void)state;
    assert_non_null(h);
    assert_int_equal(ms_host_sample(h, &s, err, sizeof(err)), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(ms_host_sample(h, &s, err, sizeof(err)), 0);
    assert_true(s.interval_s >= 0.19 && s.interval_s < 5);
    assert_true(s.cpu_percent >= 0 && s.cpu_percent <= 100);
    assert_true(s.iowait_percent >= 0 && s.iowait_percent <= 100);
    assert_true(s.n_cpus == (unsigned)conf || s.n_cpus == (unsigned)onln);
    for (unsigned i = 0; i < s.n_cpus; i++)
        assert_true(s.core_percent[i] <= 100);
    assert_true(s.mem_total > 0 && s.mem_available <= s.mem_total);
    assert_true(s.mem_used == s.mem_total - s.mem_available);
    assert_true(s.load1 >= 0 && s.disk_busy_percent >= 0 && s.disk_busy_percent <= 100);
    assert_true(s.disk_read_bps >= 0 && s.net_recv_bps >= 0);
    ms_host_destroy(&h);
}

/* True when /tmp's writes show on a disk ms_host counts; else why not. */
static int tmp_is_on_a_counted_disk(char *why, size_t len)
{
    char link[64], real[PATH_MAX], part[PATH_MAX + 16], block[PATH_MAX], *base;
    struct stat st;

    if (stat("/tmp", &st) != 0 || major(st.st_dev) == 0) {
        snprintf(why, len, "/tmp is not on a block device (tmpfs, overlay?)");
        return 0;
    }
    snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
    if (realpath(link, real) == NULL) {
        snprintf(why, len, "%s does not resolve", link);
        return 0;
    }
    snprintf(part, sizeof(part), "%s/partition", real);
    if (access(part, F_OK) == 0)
        *strrchr(real, '/') = '\0'; /* a partition: its disk is the parent */
    base = strrchr(real, '/') + 1;
    snprintf(block, sizeof(block), "/sys/block/%s", base);
    if (access(block, F_OK) != 0 || strncmp(base, "loop", 4) == 0 ||
        strncmp(base, "zram", 4) == 0 || strncmp(base, "ram", 3) == 0) {
        snprintf(why, len, "/tmp is on %s, which is not a counted disk", base);
        return 0;
    }
    return 1;
}

static void write_and_fsync(const char *path, size_t total)
{
    static char chunk[1 << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    memset(chunk, 'x', sizeof(chunk));
    for (size_t done = 0; done < total; done += sizeof(chunk))
        assert_int_equal(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
    assert_int_equal(fsync(fd), 0);
    assert_int_equal(close(fd), 0);
}

static void live_writing_64MB_to_tmp_shows_in_disk_write_bytes(void **state)
{
    char err[256] = "", why[PATH_MAX + 64], path[] = "/tmp/ms_host_write.XXXXXX";
    ms_host_t *h = ms_host_new("/proc", "/sys/block", err, sizeof(err));
    ms_host_sample_t before, after;
    int fd;

    (void)state;
    assert_non_null(h);
    if (!tmp_is_on_a_counted_disk(why, sizeof(why))) {
        print_message("skipped: %s\n", why);
        ms_host_destroy(&h);
        skip();
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ms_host_sample(h, &before, err, sizeof(err)), 0);
    write_and_fsync(path, 64 * MB); /* dd if=/dev/zero bs=1M count=64 conv=fsync */
    assert_int_equal(ms_host_sample(h, &after, err, sizeof(err)), 0);
    unlink(path);
    assert_true(after.disk_write_bytes >= before.disk_write_bytes + 60 * MB);
    assert_true(after.disk_write_bps > 0);
    ms_host_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_stat_reads_the_total_and_every_core_of_a_captured_file),
        cmocka_unit_test(parse_stat_numbers_cores_by_their_name_when_one_is_offline),
        cmocka_unit_test(parse_stat_survives_2000_cpu_lines_and_skips_cores_past_the_maximum),
        cmocka_unit_test(parse_stat_refuses_text_without_a_well_formed_cpu_line),
        cmocka_unit_test(parse_stat_skips_malformed_or_repeated_core_lines_and_keeps_the_rest),
        cmocka_unit_test(parse_diskstats_reads_every_line_partitions_and_virtual_devices_included),
        cmocka_unit_test(parse_diskstats_counts_lines_past_the_array_so_the_caller_can_grow_it),
        cmocka_unit_test(parse_diskstats_skips_short_non_numeric_and_oversized_lines),
        cmocka_unit_test(parse_netdev_reads_bytes_both_ways_of_every_interface),
        cmocka_unit_test(parse_netdev_skips_headers_and_malformed_lines),
        cmocka_unit_test(parse_meminfo_reads_total_and_available_in_bytes),
        cmocka_unit_test(parse_meminfo_estimates_available_on_kernels_without_MemAvailable),
        cmocka_unit_test(parse_meminfo_refuses_text_without_MemTotal_or_with_bad_values),
        cmocka_unit_test(parse_loadavg_reads_the_three_averages_exactly),
        cmocka_unit_test(parse_loadavg_refuses_garbage),
        cmocka_unit_test(parsers_take_every_truncation_of_the_fixtures_without_crashing),
        cmocka_unit_test_setup_teardown(sample_from_fixture_a_then_b_gives_the_hand_made_deltas,
                                        make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(first_sample_gives_the_counters_as_read_and_zero_rates,
                                        make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(counters_that_went_backwards_give_zero_rates_not_huge_ones,
                                        make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(
            a_sample_at_the_same_instant_gives_cpu_shares_but_no_byte_rates, make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(
            cpus_that_come_and_go_between_samples_read_zero_and_stay_in_bounds, make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(devices_that_come_and_go_give_no_rate_of_their_own,
                                        make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(
            a_file_longer_than_the_read_limit_is_cut_at_its_last_complete_line, make_tmp, rm_tmp),
        cmocka_unit_test_setup_teardown(sample_fails_naming_a_missing_file_and_keeps_the_baseline,
                                        make_tmp, rm_tmp),
        cmocka_unit_test(new_refuses_a_proc_root_without_stat_and_says_why),
        cmocka_unit_test(destroy_accepts_null_and_sets_the_pointer_to_null),
        cmocka_unit_test(live_samples_200ms_apart_are_sane),
        cmocka_unit_test(live_writing_64MB_to_tmp_shows_in_disk_write_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
