/*
 * hostile_http - a misbehaving HTTP client for the tests: malformed
 * requests to the master's HTTP listener, from a chosen source address
 * (127.0.0.2: the per-address limit then leaves 127.0.0.1 to the test).
 *
 *   hostile_http bad IP PORT SRC          one connection per malformed
 *                                         request; prints "CASE: STATUS"
 *                                         (the answer's code, or closed)
 *   hostile_http hold IP PORT SRC N SECS  N connections at once, each a
 *                                         request that never ends; prints
 *                                         how many were refused at once
 *                                         and when the last was closed
 *
 * Exits 0 once done (the test judges what it printed and whether the
 * master is still up and answering).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *ip, *src;
static int port;

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in from = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
        inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("hostile_http: connect");
        exit(1);
    }
    return fd;
}

/* Send what it can of len bytes (the server may close first). */
static void send_some(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* The status line's code, or "closed" / "silent" (nothing in 10 s). */
static void answer(const char *name, int fd)
{
    char buf[256] = "";
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n = poll(&p, 1, 10000) == 1 ? recv(fd, buf, sizeof buf - 1, 0) : -2;
    if (n > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
        printf("%s: %.3s\n", name, buf + 9);
    else
        printf("%s: %s\n", name, n == -2 ? "silent" : "closed");
    fflush(stdout);
    close(fd);
}

static void request(const char *name, const char *text, size_t len)
{
    int fd = dial();
    send_some(fd, text, len);
    answer(name, fd);
}

/* A request line and headers with filler bytes of c in the middle. */
static void big(const char *name, const char *head, size_t n, char c, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *buf = malloc(hl + n + tl);
    memcpy(buf, head, hl);
    memset(buf + hl, c, n);
    memcpy(buf + hl + n, tail, tl);
    request(name, buf, hl + n + tl);
    free(buf);
}

/* A request given as a string literal, its length counted by the compiler. */
#define SEND(name, literal) request(name, literal, sizeof literal - 1)

static int bad(void)
{
    static const char nul[] = "GET /api/status HTTP/1.1\r\nHost: x\0y\r\n\r\n";
    char garbage[4096];
    srand(7);
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)rand();
    request("garbage", garbage, sizeof garbage);
    big("huge-header", "GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: ", 1 << 20, 'a', "\r\n\r\n");
    big("many-headers", "GET /api/status HTTP/1.1\r\n", 200000, '\n', "\r\n");
    big("long-url", "GET /", 100000, 'a', " HTTP/1.1\r\nHost: x\r\n\r\n");
    SEND("no-version", "GET /api/status\r\n\r\n");
    SEND("http-0.9", "GET /api/status\n");
    SEND("post", "POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    SEND("dotdot", "GET /api/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n");
    SEND("nul-escape", "GET /api/status%00.json HTTP/1.1\r\nHost: x\r\n\r\n");
    request("nul-byte", nul, sizeof nul - 1);
    SEND("bad-length", "GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
    SEND("chunked-lie", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    SEND("good", "GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return 0;
}

/* N connections at once, each an unfinished request. Prints how many the
 * server closed within a second (its per-address limit) and how long the
 * others stayed open before it closed them (its timeout). */
static int hold(int n, int secs)
{
    int *fds = calloc((size_t)n, sizeof *fds), open = 0, refused = 0;
    long start = now_ms(), last = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = dial();
        send_some(fds[i], "GET /api/status HTTP/1.1\r\nHost:", 31);
    }
    while (now_ms() - start < secs * 1000L) {
        open = 0;
        for (int i = 0; i < n; i++) {
            char c;
            struct pollfd p = {fds[i], POLLIN, 0};
            if (fds[i] < 0 || poll(&p, 1, 0) != 1 || recv(fds[i], &c, 1, MSG_DONTWAIT) > 0) {
                open += fds[i] >= 0;
                continue;
            }
            close(fds[i]);
            fds[i] = -1;
            if (now_ms() - start < 1000)
                refused++;
            last = now_ms() - start;
        }
        if (!open)
            break;
        usleep(50000);
    }
    printf("refused at once: %d of %d\nstill open: %d\nlast closed after: %ld ms\n", refused, n,
           open, last);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "hold") == 0 && argc < 7)) {
        fprintf(stderr, "usage: hostile_http bad IP PORT SRC | hold IP PORT SRC N SECS\n");
        return 2;
    }
    ip = argv[2];
    port = atoi(argv[3]);
    src = argv[4];
    return strcmp(argv[1], "hold") == 0 ? hold(atoi(argv[5]), atoi(argv[6])) : bad();
}
