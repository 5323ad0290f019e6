/*
 * weft's CNI plugin executables (`weft`, `weft-ipam`: one binary, named by argv[0]).
 *
 * Why C: a runtime starts the plugin once per verb, and Node's start-up alone (~125 ms) is
 * several times the whole budget of an ADD. This shim only gathers the invocation (CNI_*
 * environment + stdin), hands it to weftd over its unix socket (POST /v1/cni, HTTP/1.0), prints
 * the reply and exits with the reply's code. All CNI logic lives in src/api/cni/ (TypeScript).
 *
 * When weftd does not answer (no socket, refused, or an older weftd without the route) it
 * execs `node <repo>/dist/src/api/cni/cni-main.js <plugin>` with the same stdin and
 * environment: the same code run in-process on the same store — slower, but correct.
 *
 * Locations, first match wins:
 *   socket: config field "weftSocket", $WEFT_SOCKET, compiled WEFT_DEFAULT_SOCKET
 *   repo:   config field "weftRepo",   $WEFT_REPO,   compiled WEFT_DEFAULT_REPO
 *   node:   $WEFT_NODE, compiled WEFT_DEFAULT_NODE
 *
 * Reply framing (see src/api/cni/cni-routes.ts): HTTP 200 with the body
 * {"exitCode":N} or {"exitCode":N,"output":<JSON>}; `output` is printed verbatim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef WEFT_DEFAULT_SOCKET
#define WEFT_DEFAULT_SOCKET "/run/weft/weft.sock"
#endif
#ifndef WEFT_DEFAULT_REPO
#define WEFT_DEFAULT_REPO "/opt/weft"
#endif
#ifndef WEFT_DEFAULT_NODE
#define WEFT_DEFAULT_NODE "/usr/bin/node"
#endif

#define MAX_STDIN (8u << 20)
#define REPLY_TIMEOUT_S 120

struct buf {
  char *p;
  size_t len, cap;
};

static void die_oom(void) {
  fputs("weft-cni: out of memory\n", stderr);
  exit(1);
}

static void buf_put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die_oom();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Append s as a JSON string literal (bytes >= 0x80 pass through: the config is UTF-8). */
static void buf_json(struct buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_put(b, e, 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      buf_put(b, e, 6);
    } else {
      buf_put(b, (const char *)&s[i], 1);
    }
  }
  buf_put(b, "\"", 1);
}

/* Value of a top-level-looking string field "key": "value" (no escapes needed for paths). */
static char *conf_string(const char *conf, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(conf, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return NULL;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return NULL;
  const char *end = strchr(p, '"');
  if (!end || end - p >= 4096) return NULL;
  return strndup(p, (size_t)(end - p));
}

/* A CNI error of our own (weftd answered but not as a CNI endpoint), then exit. */
static void fail(const char *conf, int code, const char *msg, const char *details) {
  char *v = conf ? conf_string(conf, "cniVersion") : NULL;
  struct buf b = {0};
  buf_str(&b, "{\"cniVersion\":");
  buf_json(&b, v ? v : "1.1.0", strlen(v ? v : "1.1.0"));
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  buf_str(&b, num);
  buf_json(&b, msg, strlen(msg));
  buf_str(&b, ",\"details\":");
  buf_json(&b, details, strlen(details));
  buf_str(&b, "}\n");
  fwrite(b.p, 1, b.len, stdout);
  fflush(stdout);
  exit(1);
}

static const char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Replace this process with the in-process implementation, stdin replayed from memory. */
static void exec_fallback(const char *plugin, const char *conf, size_t conf_len) {
  char *repo = conf_string(conf, "weftRepo");
  if (!repo) repo = getenv("WEFT_REPO");
  if (!repo) repo = WEFT_DEFAULT_REPO;
  const char *node = getenv("WEFT_NODE");
  if (!node) node = WEFT_DEFAULT_NODE;
  char script[4200];
  snprintf(script, sizeof script, "%s/dist/src/api/cni/cni-main.js", repo);
  int fd = memfd_create("weft-cni-stdin", 0);
  if (fd < 0) fail(conf, 5, "cannot replay stdin to the fallback", strerror(errno));
  size_t off = 0;
  while (off < conf_len) {
    ssize_t n = write(fd, conf + off, conf_len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(conf, 5, "cannot replay stdin to the fallback", strerror(errno));
    }
    off += (size_t)n;
  }
  lseek(fd, 0, SEEK_SET);
  dup2(fd, 0);
  close(fd);
  char *args[] = {(char *)node, "--no-warnings", script, (char *)plugin, NULL};
  execv(node, args);
  char details[4400];
  snprintf(details, sizeof details, "%s %s: %s", node, script, strerror(errno));
  fail(conf, 50, "weftd is not running and the in-process fallback cannot start", details);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *plugin = basename_of(argv[0]);

  struct buf in = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = read(0, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (in.len + (size_t)n > MAX_STDIN) fail(NULL, 5, "network configuration too large", "more than 8 MiB on stdin");
    buf_put(&in, chunk, (size_t)n);
  }
  if (!in.p) buf_put(&in, "", 0);

  char *sock = conf_string(in.p, "weftSocket");
  if (!sock) sock = getenv("WEFT_SOCKET");
  if (!sock) sock = WEFT_DEFAULT_SOCKET;

  struct buf body = {0};
  buf_str(&body, "{\"plugin\":");
  buf_json(&body, plugin, strlen(plugin));
  buf_str(&body, ",\"env\":{");
  static const char *vars[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};
  int first = 1;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (!v) continue;
    if (!first) buf_str(&body, ",");
    first = 0;
    buf_json(&body, vars[i], strlen(vars[i]));
    buf_str(&body, ":");
    buf_json(&body, v, strlen(v));
  }
  buf_str(&body, "},\"stdin\":");
  buf_json(&body, in.p, in.len);
  buf_str(&body, "}");

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || strlen(sock) >= sizeof addr.sun_path) exec_fallback(plugin, in.p, in.len);
  strcpy(addr.sun_path, sock);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    exec_fallback(plugin, in.p, in.len);
  }
  struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  char head[256];
  int hl = snprintf(head, sizeof head,
                    "POST /v1/cni HTTP/1.0\r\nHost: weft\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    body.len);
  if (write_all(fd, head, (size_t)hl) < 0 || write_all(fd, body.p, body.len) < 0) {
    close(fd);
    exec_fallback(plugin, in.p, in.len);
  }

  struct buf reply = {0};
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(in.p, 11, "weftd did not answer in time", strerror(errno));
    if (n == 0) break;
    buf_put(&reply, chunk, (size_t)n);
  }
  close(fd);
  if (!reply.p) fail(in.p, 11, "weftd closed the connection without answering", sock);

  int status = 0;
  if (sscanf(reply.p, "HTTP/1.%*d %d", &status) != 1) fail(in.p, 999, "malformed reply from weftd", sock);
  /* 404/405: a weftd without the CNI endpoint. Run the in-process implementation instead. */
  if (status == 404 || status == 405) exec_fallback(plugin, in.p, in.len);
  char *payload = strstr(reply.p, "\r\n\r\n");
  if (!payload) fail(in.p, 999, "malformed reply from weftd", "no body");
  payload += 4;
  if (status != 200) fail(in.p, 999, "weftd refused the request", payload);

  static const char prefix[] = "{\"exitCode\":";
  if (strncmp(payload, prefix, sizeof prefix - 1) != 0) fail(in.p, 999, "malformed reply from weftd", payload);
  char *p = payload + sizeof prefix - 1;
  char *end;
  long code = strtol(p, &end, 10);
  if (end == p) fail(in.p, 999, "malformed reply from weftd", payload);
  static const char out_key[] = ",\"output\":";
  if (strncmp(end, out_key, sizeof out_key - 1) == 0) {
    char *out = end + sizeof out_key - 1;
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ')) len--;
    if (len == 0 || out[len - 1] != '}') fail(in.p, 999, "malformed reply from weftd", payload);
    len--; /* the closing brace of the frame */
    fwrite(out, 1, len, stdout);
    fputc('\n', stdout);
  }
  fflush(stdout);
  return (int)(code & 0xff);
}
