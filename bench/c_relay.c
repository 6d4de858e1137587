/* The baseline of bench/calls.py: a minimal UDP relay in C, shaped like Switchboard's
 * anchored relay. For each of N calls it binds two sockets on 127.0.0.1: leg A at
 * base + 4*i (the caller sends there) and leg B at base + 4*i + 2 (the callee sends
 * there); each leg latches the source of what arrives on it (symmetric RTP). What arrives
 * on A leaves through B to B's phone, and the other way round; packets that arrive before
 * the other side is latched are dropped. One recvfrom and one sendto per packet, epoll,
 * one thread; no header check. Per leg it keeps RFC 3550's interarrival jitter of what
 * arrives, as Switchboard's relay does, so that the load generator's own jitter is known.
 * SIGUSR1 prints the packets relayed so far; SIGTERM prints them and every leg's jitter
 * (ms), then exits.
 *
 *   gcc -O2 -o c_relay c_relay.c && ./c_relay BASE_PORT CALLS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct leg {
    int fd;
    int other;                 /* index of the paired leg */
    int latched;               /* set once a packet has arrived on this leg */
    struct sockaddr_in peer;   /* its source: where packets leaving through this leg go */
    int seen;                  /* RTP packets seen, for the jitter */
    double transit, jitter;    /* RFC 3550 6.4.1, in timestamp units (8 kHz) */
};

static volatile sig_atomic_t report_flag = 0, stop_flag = 0;

static void on_usr1(int sig) { (void)sig; report_flag = 1; }
static void on_term(int sig) { (void)sig; stop_flag = 1; }

static int bind_udp(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "c_relay: cannot bind 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s BASE_PORT CALLS\n", argv[0]);
        return 2;
    }
    int base = atoi(argv[1]), calls = atoi(argv[2]);
    struct leg *legs = calloc((size_t)calls * 2, sizeof *legs);
    int ep = epoll_create1(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < calls; i++) {
        struct leg *a = &legs[2 * i], *b = &legs[2 * i + 1];
        a->fd = bind_udp(base + 4 * i);
        b->fd = bind_udp(base + 4 * i + 2);
        a->other = 2 * i + 1;
        b->other = 2 * i;
        for (int k = 0; k < 2; k++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)(2 * i + k)};
            epoll_ctl(ep, EPOLL_CTL_ADD, legs[2 * i + k].fd, &ev);
        }
    }
    printf("ready %d\n", calls);
    fflush(stdout);
    unsigned long long relayed = 0;
    struct epoll_event events[256];
    unsigned char buf[2048];
    while (!stop_flag) {
        int n = epoll_wait(ep, events, 256, 100);
        if (report_flag) {
            report_flag = 0;
            printf("relayed %llu\n", relayed);
            fflush(stdout);
        }
        for (int e = 0; e < n; e++) {
            unsigned idx = events[e].data.u32;
            struct leg *in = &legs[idx], *out = &legs[in->other];
            for (;;) {
                struct sockaddr_in src;
                socklen_t len = sizeof src;
                ssize_t got = recvfrom(in->fd, buf, sizeof buf, 0, (struct sockaddr *)&src, &len);
                if (got < 0)
                    break;
                in->peer = src; /* latch this leg's phone */
                in->latched = 1;
                if (got >= 12 && (buf[0] & 0xC0) == 0x80) {
                    struct timespec now;
                    clock_gettime(CLOCK_MONOTONIC, &now);
                    unsigned ts = (unsigned)buf[4] << 24 | (unsigned)buf[5] << 16 |
                                  (unsigned)buf[6] << 8 | buf[7];
                    double arrival = (now.tv_sec + now.tv_nsec / 1e9) * 8000.0;
                    double transit = arrival - ts;
                    if (in->seen++) {
                        double d = transit - in->transit;
                        if (d < 0)
                            d = -d;
                        in->jitter += (d - in->jitter) / 16.0;
                    }
                    in->transit = transit;
                }
                /* what arrives on one leg leaves through the other, to that leg's peer */
                if (out->latched &&
                    sendto(out->fd, buf, (size_t)got, 0, (struct sockaddr *)&out->peer,
                           sizeof out->peer) == got)
                    relayed++;
            }
        }
    }
    printf("relayed %llu\njitter_ms", relayed);
    for (int i = 0; i < 2 * calls; i++)
        if (legs[i].seen > 1)
            printf(" %.3f", legs[i].jitter / 8.0);
    printf("\n");
    return 0;
}
