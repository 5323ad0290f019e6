/*
 * weft-exec: the process `weft run` starts for the sandbox's command.
 *
 *   weft-exec NETNS HOSTS RESOLV HOSTNAME -- CMD [ARGS...]
 *
 * In a private mount namespace and a new UTS namespace it binds HOSTS over /etc/hosts and
 * RESOLV over /etc/resolv.conf (each skipped when empty), sets HOSTNAME (skipped when empty),
 * enters the network namespace NETNS (a path: /run/.../netns/ID or /proc/PID/ns/net) and execs
 * CMD from PATH. Nothing else: weftd has already made the namespace and the files.
 *
 * Why C: it replaced `unshare` + a Node helper loading koffi, which cost `weft run` a second
 * Node start (~120 ms here). Errors go to stderr as "weft: ..."; the exit status is then 127
 * (not found) or 126 (any other failure), as a shell reports a command it could not run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static void fail(int status, const char *fmt, ...) {
  int err = errno;
  va_list ap;
  fputs("weft: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(status);
}

static void bind_file(const char *src, const char *dst) {
  if (src[0] == '\0') return;
  if (mount(src, dst, NULL, MS_BIND, NULL) != 0) fail(126, "bind %s on %s", src, dst);
}

int main(int argc, char **argv) {
  if (argc < 7 || strcmp(argv[5], "--") != 0) {
    errno = 0;
    fail(126, "usage: weft-exec NETNS HOSTS RESOLV HOSTNAME -- CMD [ARGS...]");
  }
  const char *netns = argv[1], *hosts = argv[2], *resolv = argv[3], *hostname = argv[4];
  char **cmd = &argv[6];

  int fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(126, "open network namespace %s", netns);
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) fail(126, "unshare mount and UTS namespaces");
  // Our binds must not propagate back to the host's mount namespace.
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(126, "make mounts private");
  bind_file(hosts, "/etc/hosts");
  bind_file(resolv, "/etc/resolv.conf");
  if (hostname[0] != '\0' && sethostname(hostname, strlen(hostname)) != 0) fail(126, "sethostname %s", hostname);
  if (setns(fd, CLONE_NEWNET) != 0) fail(126, "enter network namespace %s", netns);
  close(fd);
  // Node may have left the inherited stdio non-blocking; the command expects blocking fds.
  for (int s = 0; s <= 2; s++) {
    int fl = fcntl(s, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) (void)fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
  }
  execvp(cmd[0], cmd);
  fail(errno == ENOENT ? 127 : 126, "exec %s", cmd[0]);
  return 126;
}
