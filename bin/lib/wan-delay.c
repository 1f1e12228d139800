/*
 * wan-delay: one direction of bin/bench's WAN link, for kernels without
 * netem (this benchmark's machine has tbf and nftables but no netem).
 *
 *   wan-delay NETNS_IN TUN_IN NETNS_OUT TUN_OUT DELAY_MS LOSS_PPM
 *
 * Creates the TUN device TUN_IN in the network namespace NETNS_IN and
 * TUN_OUT in NETNS_OUT (names of /run/netns), then forwards every IP
 * packet written into TUN_IN out of TUN_OUT DELAY_MS later, dropping
 * LOSS_PPM in a million at random. The devices go when it exits (SIGTERM,
 * SIGINT); it then prints "<forwarded> <lost> <overflowed> <most queued>"
 * on stderr. The caller brings the devices up and routes through them.
 *
 * bin/bench routes only the joiner's packets (ACKs, mostly) through it and
 * shapes the donor's data with tbf in the kernel: userspace copies a few
 * thousand small packets a second, not a gigabit of data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Packets in flight at most: 50 ms of a gigabit's ACKs is about 2,100. */
#define SLOTS 65536
/* Larger than the TUN devices' MTU (1500), so no packet is cut. */
#define SLOT_BYTES 2048

struct slot {
    int64_t due_ns;
    int len;
    unsigned char data[SLOT_BYTES];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Opens the TUN device `name` inside the network namespace `netns`. */
static int open_tun(const char *netns, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", netns);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
        die(path);
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die("/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        die(name);
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s NETNS_IN TUN_IN NETNS_OUT TUN_OUT DELAY_MS LOSS_PPM\n", argv[0]);
        return 2;
    }
    int in = open_tun(argv[1], argv[2]);
    int out = open_tun(argv[3], argv[4]);
    if (fcntl(in, F_SETFL, O_NONBLOCK) < 0)
        die("fcntl");
    int64_t delay = atoll(argv[5]) * 1000000;
    uint32_t loss = (uint32_t)atol(argv[6]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct slot *ring = calloc(SLOTS, sizeof *ring);
    if (!ring)
        die("calloc");
    srandom((unsigned)now_ns());
    size_t head = 0, tail = 0, most = 0;
    unsigned long long forwarded = 0, lost = 0, overflowed = 0;
    while (!stop) {
        /* Sleep until a packet comes or the oldest one is due. */
        struct timespec wait = {1, 0};
        if (head != tail) {
            int64_t left = ring[tail % SLOTS].due_ns - now_ns();
            if (left < 0)
                left = 0;
            wait.tv_sec = left / 1000000000;
            wait.tv_nsec = left % 1000000000;
        }
        struct pollfd p = {.fd = in, .events = POLLIN};
        if (ppoll(&p, 1, &wait, NULL) < 0 && errno != EINTR)
            die("ppoll");
        for (;;) {
            struct slot *s = &ring[head % SLOTS];
            if (head - tail == SLOTS) {
                /* A full queue drops, as a router's does. */
                static unsigned char scrap[SLOT_BYTES];
                if (read(in, scrap, sizeof scrap) < 0)
                    break;
                overflowed++;
                continue;
            }
            int n = (int)read(in, s->data, SLOT_BYTES);
            if (n < 0)
                break;
            if (loss && (uint32_t)(random() % 1000000) < loss) {
                lost++;
                continue;
            }
            s->len = n;
            s->due_ns = now_ns() + delay;
            head++;
            if (head - tail > most)
                most = head - tail;
        }
        int64_t t = now_ns();
        while (tail != head && ring[tail % SLOTS].due_ns <= t) {
            struct slot *s = &ring[tail % SLOTS];
            /* A write to a TUN device that is down fails: the packet is gone. */
            if (write(out, s->data, (size_t)s->len) == s->len)
                forwarded++;
            tail++;
        }
    }
    fprintf(stderr, "%llu %llu %llu %zu\n", forwarded, lost, overflowed, most);
    return 0;
}
