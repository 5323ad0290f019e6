/*
 * connect-wait IP PORT: the convergence benches' client. Prints "ready", then starts a TCP
 * connect to IP:PORT every 2 ms (each attempt given up after 100 ms, at most 64 in flight) and,
 * at the first one that succeeds, prints the wall-clock time in epoch milliseconds and exits 0;
 * exits 1 after 30 s without one.
 *
 * Why C: the probe must not load the machine it measures. The same loop in Node costs ≈ 13 %
 * of a core per client (a timer, a socket object and its callbacks every 2 ms); this one sleeps
 * in poll() between attempts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 64
#define EVERY_MS 2
#define GIVE_UP_MS 100
#define TOTAL_MS 30000

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: connect-wait IP PORT\n");
    return 2;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "connect-wait: %s is not an IPv4 address\n", argv[1]);
    return 2;
  }
  struct pollfd fds[MAX_INFLIGHT];
  double started[MAX_INFLIGHT];
  int n = 0;
  double begin = now_ms(CLOCK_MONOTONIC), next = begin;
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    double t = now_ms(CLOCK_MONOTONIC);
    if (t - begin > TOTAL_MS) return 1;
    if (t >= next && n < MAX_INFLIGHT) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        perror("connect-wait: socket");
        return 1;
      }
      int rc = connect(fd, (struct sockaddr *)&to, sizeof to);
      if (rc == 0) {
        printf("%.3f\n", now_ms(CLOCK_REALTIME));
        return 0;
      }
      if (errno == EINPROGRESS) {
        fds[n] = (struct pollfd){.fd = fd, .events = POLLOUT};
        started[n++] = t;
      } else {
        close(fd); /* refused or unreachable at once: the next attempt comes in 2 ms */
      }
      next = t + EVERY_MS;
    }
    double wait = next - now_ms(CLOCK_MONOTONIC);
    if (wait < 0) wait = 0;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1e3), .tv_nsec = (long)((wait - (time_t)(wait / 1e3) * 1e3) * 1e6)};
    if (ppoll(fds, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR) {
      perror("connect-wait: poll");
      return 1;
    }
    t = now_ms(CLOCK_MONOTONIC);
    for (int i = 0; i < n;) {
      int err = 0;
      socklen_t len = sizeof err;
      if (fds[i].revents) {
        getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
          printf("%.3f\n", now_ms(CLOCK_REALTIME));
          return 0;
        }
      }
      if (fds[i].revents || t - started[i] > GIVE_UP_MS) {
        close(fds[i].fd);
        fds[i] = fds[--n];
        started[i] = started[n];
        continue;
      }
      i++;
    }
  }
}
