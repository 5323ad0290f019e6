/*
 * weft's CNI plugin executables (`weft`, `weft-ipam`: one binary, named by argv[0]).
 *
 * Why C: a runtime starts the plugin once per verb, and Node's start-up alone (~125 ms) is
 * several times the whole budget of an ADD. This shim only gathers the invocation (CNI_*
 * environment + stdin), hands it to weftd over its unix socket (POST /v1/cni, HTTP/1.0), prints
 * the reply and exits with the reply's code. All CNI logic lives in src/api/cni/ (TypeScript).
 *
 * Trust: the network configuration on stdin is written partly by whoever creates pods
 * (Kubernetes fills `args` and `runtimeConfig`), so NOTHING in it decides which socket is
 * trusted or which program runs. Those come from the plugin's own environment, else from the
 * install configuration `weft cni install` wrote next to this binary (weft-cni.conf: root-owned,
 * not writable by anyone else, else refused), else from the defaults compiled in:
 *   socket:   $WEFT_SOCKET,    conf "socket",    WEFT_DEFAULT_SOCKET
 *   node:     $WEFT_NODE,      conf "node",      WEFT_DEFAULT_NODE
 *   fallback: $WEFT_CNI_MAIN,  conf "main",      WEFT_DEFAULT_REPO/dist/src/api/cni/cni-main.js
 *   the fallback's store: $WEFT_STATE_DIR / $WEFT_RUN_DIR / $WEFT_STORE, conf state-dir / run-dir / store
 * When weftd does not answer (no socket, or nothing listening, or an older weftd without the
 * route) the shim execs `node <main> <plugin>` with the same stdin and environment: the same
 * code run in-process on the same store.
 *
 * Limits: stdin and the request at most WEFT_MAX_BODY bytes (weftd's own limit, checked by a
 * unit test), the reply at most WEFT_MAX_REPLY. Every failure prints a CNI error JSON on stdout
 * and exits non-zero; SIGPIPE is ignored so a peer that goes away is an error, not a silent death.
 *
 * Reply framing (src/api/cni/cni-routes.ts): HTTP 200 with a JSON object holding "exitCode"
 * (0-255) and, optionally, "output" (an object), in any key order; "output" is printed verbatim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* weftd refuses request bodies larger than this (src/api/rest/rest-server.ts MAX_BODY). */
#define WEFT_MAX_BODY (1u << 20)
#define WEFT_MAX_REPLY (4u << 20)
#define WEFT_CONF_NAME "weft-cni.conf"
#define WEFT_MAX_CONF 8192
#define REPLY_TIMEOUT_S 120
#define MAX_JSON_DEPTH 64

struct buf {
  char *p;
  size_t len, cap;
};

/* cniVersion of the request, for our own error replies (set once stdin is read). */
static char version[16] = "1.1.0";

/* Write everything, retrying on EINTR; -1 with errno on failure. */
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

static void die_oom(void) {
  static const char msg[] = "{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"weft CNI plugin: out of memory\"}\n";
  if (write_all(1, msg, sizeof msg - 1) < 0) { /* nothing left to report to */
  }
  _exit(1);
}

static void buf_put(struct buf *b, const char *s, size_t n) {
  if (n > SIZE_MAX / 2 - b->len - 1) die_oom();
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die_oom();
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Append bytes as a JSON string literal (bytes >= 0x80 pass through: the config is UTF-8). */
static void buf_json(struct buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_put(b, e, 2);
    } else if (c < 0x20 || c == 0x7f) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      buf_put(b, e, 6);
    } else {
      buf_put(b, (const char *)&s[i], 1);
    }
  }
  buf_put(b, "\"", 1);
}

/* Print a CNI error of our own and exit 1. Always prints: this is the shim's last word. */
static void fail(int code, const char *msg, const char *details) {
  struct buf b = {0};
  buf_str(&b, "{\"cniVersion\":");
  buf_json(&b, version, strlen(version));
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  buf_str(&b, num);
  buf_json(&b, msg, strlen(msg));
  if (details) {
    buf_str(&b, ",\"details\":");
    buf_json(&b, details, strlen(details) > 2048 ? 2048 : strlen(details));
  }
  buf_str(&b, "}\n");
  if (write_all(1, b.p, b.len) < 0) {
    /* stdout is gone (the runtime stopped reading): stderr is all that is left. */
    fprintf(stderr, "weft CNI plugin: %s: %s (stdout: %s)\n", msg, details ? details : "", strerror(errno));
  }
  _exit(1);
}

static void fail_errno(int code, const char *msg, const char *what) {
  char d[512];
  snprintf(d, sizeof d, "%s: %s", what, strerror(errno));
  fail(code, msg, d);
}

/* ---- JSON: a strict scanner over [p, end) that finds spans, never copies ---- */

struct json {
  const char *p, *end;
  int depth;
};

static void ws(struct json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int skip_value(struct json *j);

/* A string; on success s and n span its raw contents (escapes left as they are). */
static int scan_string(struct json *j, const char **s, size_t *n) {
  if (j->p >= j->end || *j->p != '"') return -1;
  const char *start = ++j->p;
  while (j->p < j->end) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') {
      if (s) *s = start;
      if (n) *n = (size_t)(j->p - start);
      j->p++;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c == '\\') {
      j->p++;
      if (j->p >= j->end) return -1;
      char e = *j->p;
      if (e == 'u') {
        for (int i = 0; i < 4; i++) {
          j->p++;
          if (j->p >= j->end || !((*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'f') || (*j->p >= 'A' && *j->p <= 'F')))
            return -1;
        }
      } else if (!strchr("\"\\/bfnrt", e) || e == 0) {
        return -1;
      }
    }
    j->p++;
  }
  return -1;
}

static int scan_number(struct json *j) {
  const char *s = j->p;
  if (j->p < j->end && *j->p == '-') j->p++;
  if (j->p >= j->end) return -1;
  if (*j->p == '0') {
    j->p++;
  } else if (*j->p >= '1' && *j->p <= '9') {
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  } else {
    return -1;
  }
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return -1;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return -1;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  return j->p > s ? 0 : -1;
}

static int scan_literal(struct json *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return -1;
  j->p += n;
  return 0;
}

static int skip_container(struct json *j, char open, char close) {
  if (++j->depth > MAX_JSON_DEPTH) return -1;
  j->p++; /* the opening bracket */
  ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
    j->depth--;
    return 0;
  }
  for (;;) {
    if (open == '{') {
      if (scan_string(j, NULL, NULL) < 0) return -1;
      ws(j);
      if (j->p >= j->end || *j->p != ':') return -1;
      j->p++;
    }
    if (skip_value(j) < 0) return -1;
    ws(j);
    if (j->p >= j->end) return -1;
    if (*j->p == ',') {
      j->p++;
      ws(j);
      continue;
    }
    if (*j->p != close) return -1;
    j->p++;
    j->depth--;
    return 0;
  }
}

static int skip_value(struct json *j) {
  ws(j);
  if (j->p >= j->end) return -1;
  switch (*j->p) {
    case '{':
      return skip_container(j, '{', '}');
    case '[':
      return skip_container(j, '[', ']');
    case '"':
      return scan_string(j, NULL, NULL);
    case 't':
      return scan_literal(j, "true");
    case 'f':
      return scan_literal(j, "false");
    case 'n':
      return scan_literal(j, "null");
    default:
      return scan_number(j);
  }
}

/* A member of a top-level object: key span and value span. */
struct member {
  const char *key;
  size_t key_len;
  const char *val;
  size_t val_len;
};

/*
 * Walk a top-level JSON object, calling `on` for each member. The whole text must be one
 * valid object (trailing whitespace allowed). Returns 0, or -1 for malformed JSON.
 */
static int each_member(const char *p, size_t n, int (*on)(const struct member *, void *), void *ctx) {
  struct json j = {p, p + n, 0};
  ws(&j);
  if (j.p >= j.end || *j.p != '{') return -1;
  j.p++;
  ws(&j);
  if (j.p < j.end && *j.p == '}') {
    j.p++;
  } else {
    for (;;) {
      struct member m;
      if (scan_string(&j, &m.key, &m.key_len) < 0) return -1;
      ws(&j);
      if (j.p >= j.end || *j.p != ':') return -1;
      j.p++;
      ws(&j);
      m.val = j.p;
      if (skip_value(&j) < 0) return -1;
      m.val_len = (size_t)(j.p - m.val);
      if (on(&m, ctx) < 0) return -1;
      ws(&j);
      if (j.p >= j.end) return -1;
      if (*j.p == ',') {
        j.p++;
        ws(&j);
        continue;
      }
      if (*j.p != '}') return -1;
      j.p++;
      break;
    }
  }
  ws(&j);
  return j.p == j.end ? 0 : -1;
}

static int key_is(const struct member *m, const char *k) { return m->key_len == strlen(k) && memcmp(m->key, k, m->key_len) == 0; }

static int take_version(const struct member *m, void *ctx) {
  (void)ctx;
  if (!key_is(m, "cniVersion")) return 0;
  /* Only a plain dotted version is echoed back; anything else keeps the default. */
  if (m->val_len < 3 || m->val_len - 2 >= sizeof version || m->val[0] != '"') return 0;
  for (size_t i = 1; i + 1 < m->val_len; i++)
    if (!((m->val[i] >= '0' && m->val[i] <= '9') || m->val[i] == '.')) return 0;
  memcpy(version, m->val + 1, m->val_len - 2);
  version[m->val_len - 2] = 0;
  return 0;
}

struct reply_frame {
  int seen_code, seen_output;
  long code;
  const char *output;
  size_t output_len;
};

static int take_reply(const struct member *m, void *ctx) {
  struct reply_frame *f = ctx;
  if (key_is(m, "exitCode")) {
    if (f->seen_code++) return -1;
    if (m->val_len == 0 || m->val_len > 3) return -1;
    long v = 0;
    for (size_t i = 0; i < m->val_len; i++) {
      if (m->val[i] < '0' || m->val[i] > '9') return -1;
      v = v * 10 + (m->val[i] - '0');
    }
    if (v > 255) return -1;
    f->code = v;
  } else if (key_is(m, "output")) {
    if (f->seen_output++) return -1;
    if (m->val_len == 0 || m->val[0] != '{') return -1;
    f->output = m->val;
    f->output_len = m->val_len;
  }
  return 0;
}

/* ---- install configuration (trusted: root-owned, next to this binary) ---- */

struct settings {
  char socket[PATH_MAX];
  char node[PATH_MAX];
  char main_js[PATH_MAX];
  char state_dir[PATH_MAX];
  char run_dir[PATH_MAX];
  char store[PATH_MAX];
};

static void set_str(char *dst, const char *src, size_t len) {
  if (len >= PATH_MAX) fail(7, "weft CNI install configuration is invalid", "a value is longer than PATH_MAX");
  memcpy(dst, src, len);
  dst[len] = 0;
}

/* Values that name files must be absolute paths. */
static void set_path(char *dst, const char *key, const char *src, size_t len) {
  if (len == 0 || src[0] != '/') {
    char d[128];
    snprintf(d, sizeof d, "\"%s\" must be an absolute path", key);
    fail(7, "weft CNI install configuration is invalid", d);
  }
  set_str(dst, src, len);
}

static void parse_conf(struct settings *s, const char *text, size_t n) {
  const char *p = text, *end = text + n;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    const char *line = p;
    size_t len = (size_t)(eol - p);
    p = eol < end ? eol + 1 : end;
    if (len == 0 || line[0] == '#') continue;
    const char *eq = memchr(line, '=', len);
    if (!eq) fail(7, "weft CNI install configuration is invalid", "expected key=value lines");
    size_t klen = (size_t)(eq - line);
    const char *v = eq + 1;
    size_t vlen = len - klen - 1;
    if (memchr(v, 0, vlen)) fail(7, "weft CNI install configuration is invalid", "NUL byte in a value");
#define KEY(k) (klen == strlen(k) && memcmp(line, k, klen) == 0)
    if (KEY("socket")) set_path(s->socket, "socket", v, vlen);
    else if (KEY("node")) set_path(s->node, "node", v, vlen);
    else if (KEY("main")) set_path(s->main_js, "main", v, vlen);
    else if (KEY("state-dir")) set_path(s->state_dir, "state-dir", v, vlen);
    else if (KEY("run-dir")) set_path(s->run_dir, "run-dir", v, vlen);
    else if (KEY("store")) set_str(s->store, v, vlen);
    /* Unknown keys are for newer versions of the shim: ignored. */
#undef KEY
  }
}

/* Read weft-cni.conf from this executable's directory, refusing one others could have written. */
static void load_conf(struct settings *s) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) fail_errno(5, "weft CNI plugin cannot find its own location", "/proc/self/exe");
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) fail(5, "weft CNI plugin cannot find its own location", exe);
  *slash = 0;
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", exe, WEFT_CONF_NAME) >= sizeof path) fail(5, "path too long", exe);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return; /* not installed by `weft cni install`: compiled-in defaults */
    fail_errno(5, "cannot read the weft CNI install configuration", path);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) fail_errno(5, "cannot read the weft CNI install configuration", path);
  if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0)
    fail(5, "the weft CNI install configuration is not trusted",
         "it must be a regular file owned by root and writable by root only (weft cni install writes it)");
  if (st.st_size > WEFT_MAX_CONF) fail(5, "the weft CNI install configuration is too large", path);
  char text[WEFT_MAX_CONF + 1];
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, text + len, sizeof text - 1 - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_errno(5, "cannot read the weft CNI install configuration", path);
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len == sizeof text - 1) fail(5, "the weft CNI install configuration is too large", path);
  }
  if (close(fd) < 0) fail_errno(5, "cannot read the weft CNI install configuration", path);
  parse_conf(s, text, len);
}

/* Environment first (the plugin's own, set by the runtime), then the install configuration. */
static void from_env(char *dst, const char *var, int must_be_path) {
  const char *v = getenv(var);
  if (!v || !*v) return;
  if (must_be_path) set_path(dst, var, v, strlen(v));
  else set_str(dst, v, strlen(v));
}

static void load_settings(struct settings *s) {
  memset(s, 0, sizeof *s);
  set_str(s->socket, WEFT_DEFAULT_SOCKET, strlen(WEFT_DEFAULT_SOCKET));
  set_str(s->node, WEFT_DEFAULT_NODE, strlen(WEFT_DEFAULT_NODE));
  char main_js[PATH_MAX];
  if ((size_t)snprintf(main_js, sizeof main_js, "%s/dist/src/api/cni/cni-main.js", WEFT_DEFAULT_REPO) >= sizeof main_js)
    fail(5, "path too long", WEFT_DEFAULT_REPO);
  set_str(s->main_js, main_js, strlen(main_js));
  load_conf(s);
  from_env(s->socket, "WEFT_SOCKET", 1);
  from_env(s->node, "WEFT_NODE", 1);
  from_env(s->main_js, "WEFT_CNI_MAIN", 1);
  from_env(s->state_dir, "WEFT_STATE_DIR", 1);
  from_env(s->run_dir, "WEFT_RUN_DIR", 1);
  from_env(s->store, "WEFT_STORE", 0);
}

static const char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Replace this process with the in-process implementation, stdin replayed from memory. */
static void exec_fallback(const struct settings *s, const char *plugin, const struct buf *in) {
  int fd = memfd_create("weft-cni-stdin", MFD_CLOEXEC);
  if (fd < 0) fail_errno(5, "cannot replay stdin to the in-process fallback", "memfd_create");
  if (write_all(fd, in->p, in->len) < 0) fail_errno(5, "cannot replay stdin to the in-process fallback", "write");
  if (lseek(fd, 0, SEEK_SET) < 0) fail_errno(5, "cannot replay stdin to the in-process fallback", "lseek");
  if (dup2(fd, 0) < 0) fail_errno(5, "cannot replay stdin to the in-process fallback", "dup2");
  if (close(fd) < 0) fail_errno(5, "cannot replay stdin to the in-process fallback", "close");
  /* Where the fallback's engine lives comes from here, never from the network configuration. */
  if ((s->state_dir[0] && setenv("WEFT_STATE_DIR", s->state_dir, 1) < 0) || (s->run_dir[0] && setenv("WEFT_RUN_DIR", s->run_dir, 1) < 0) ||
      (s->store[0] && setenv("WEFT_STORE", s->store, 1) < 0))
    fail_errno(5, "cannot prepare the in-process fallback", "setenv");
  char *args[] = {(char *)s->node, "--no-warnings", (char *)s->main_js, (char *)plugin, NULL};
  execv(s->node, args);
  char d[2 * PATH_MAX + 64];
  snprintf(d, sizeof d, "%s %s: %s", s->node, s->main_js, strerror(errno));
  fail(50, "weftd is not running and the in-process fallback cannot start", d);
}

static void read_stdin(struct buf *in) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(0, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(5, "cannot read the network configuration", "stdin");
    }
    if (n == 0) break;
    if (in->len + (size_t)n > WEFT_MAX_BODY) {
      char d[96];
      snprintf(d, sizeof d, "more than %u bytes on stdin", WEFT_MAX_BODY);
      fail(7, "network configuration too large", d);
    }
    buf_put(in, chunk, (size_t)n);
  }
  if (!in->p) buf_put(in, "", 0);
}

/* The request body: {"plugin":…,"env":{CNI_*},"stdin":"…"}. */
static void build_body(struct buf *body, const char *plugin, const struct buf *in) {
  buf_str(body, "{\"plugin\":");
  buf_json(body, plugin, strlen(plugin));
  buf_str(body, ",\"env\":{");
  static const char *vars[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};
  int first = 1;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (!v) continue;
    if (!first) buf_str(body, ",");
    first = 0;
    buf_json(body, vars[i], strlen(vars[i]));
    buf_str(body, ":");
    buf_json(body, v, strlen(v));
  }
  buf_str(body, "},\"stdin\":");
  buf_json(body, in->p, in->len);
  buf_str(body, "}");
  if (body->len > WEFT_MAX_BODY) {
    char d[128];
    snprintf(d, sizeof d, "the request would be %zu bytes; weftd accepts at most %u", body->len, WEFT_MAX_BODY);
    fail(7, "network configuration too large", d);
  }
}

/* Connect to weftd; -1 when it is not there (then the fallback runs). */
static int connect_weftd(const char *sock) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock) >= sizeof addr.sun_path) fail(5, "weftd socket path too long", sock);
  memcpy(addr.sun_path, sock, strlen(sock) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno(5, "cannot create a socket", "socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  int e = errno;
  if (close(fd) < 0 && errno != EINTR) fail_errno(5, "cannot close a socket", "close");
  if (e == ENOENT || e == ECONNREFUSED) return -1;
  errno = e;
  fail_errno(50, "cannot reach weftd", sock);
  return -1;
}

static void set_timeouts(int fd) {
  struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
    fail_errno(5, "cannot set socket timeouts", "setsockopt");
}

static void read_reply(int fd, struct buf *reply, const char *sock) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) fail(11, "weftd did not answer in time", sock);
      fail_errno(11, "reading weftd's reply failed", sock);
    }
    if (n == 0) break;
    if (reply->len + (size_t)n > WEFT_MAX_REPLY) fail(999, "weftd's reply is too large", sock);
    buf_put(reply, chunk, (size_t)n);
  }
}

/* Status and body of an HTTP/1.x response held in `r`. */
static int parse_http(const struct buf *r, int *status, const char **body, size_t *body_len) {
  if (!r->p || r->len < 12 || memcmp(r->p, "HTTP/1.", 7) != 0) return -1;
  const char *s = r->p + 9;
  if (s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return -1;
  *status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  const char *head_end = memmem(r->p, r->len, "\r\n\r\n", 4);
  if (!head_end) return -1;
  *body = head_end + 4;
  *body_len = r->len - (size_t)(*body - r->p);
  /* A Content-Length, when given, must match what arrived (a cut reply is not an answer). */
  const char *h = r->p;
  while (h < head_end) {
    const char *eol = memmem(h, (size_t)(head_end + 2 - h), "\r\n", 2);
    if (!eol) break;
    if ((size_t)(eol - h) > 15 && strncasecmp(h, "content-length:", 15) == 0) {
      char num[24];
      size_t n = (size_t)(eol - h - 15);
      if (n >= sizeof num) return -1;
      memcpy(num, h + 15, n);
      num[n] = 0;
      char *endp;
      errno = 0;
      unsigned long long cl = strtoull(num, &endp, 10);
      while (*endp == ' ' || *endp == '\t') endp++;
      if (errno || *endp || cl != *body_len) return -1;
    }
    h = eol + 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  /* A peer that goes away must give an error we can report, not a silent SIGPIPE death. */
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) fail_errno(5, "cannot ignore SIGPIPE", "signal");
  const char *plugin = basename_of(argv[0] ? argv[0] : "weft");

  struct buf in = {0};
  read_stdin(&in);
  if (each_member(in.p, in.len, take_version, NULL) < 0) {
    /* Not a JSON object: weftd reports the decode error with the right code; we forward it. */
  }
  struct settings s;
  load_settings(&s);

  struct buf body = {0};
  build_body(&body, plugin, &in);

  int fd = connect_weftd(s.socket);
  if (fd < 0) exec_fallback(&s, plugin, &in);
  set_timeouts(fd);
  char head[256];
  int hl = snprintf(head, sizeof head,
                    "POST /v1/cni HTTP/1.0\r\nHost: weft\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body.len);
  if (hl < 0 || (size_t)hl >= sizeof head) fail(5, "cannot build the request", "header");
  /* write_all on the socket: SIGPIPE is ignored (above), so a closed peer is EPIPE, as send(MSG_NOSIGNAL) gives. */
  if (write_all(fd, head, (size_t)hl) < 0 || write_all(fd, body.p, body.len) < 0) fail_errno(11, "weftd closed the connection", s.socket);

  struct buf reply = {0};
  read_reply(fd, &reply, s.socket);
  if (close(fd) < 0 && errno != EINTR) fail_errno(5, "cannot close the connection to weftd", "close");
  if (!reply.p) fail(11, "weftd closed the connection without answering", s.socket);

  int status;
  const char *payload;
  size_t payload_len;
  if (parse_http(&reply, &status, &payload, &payload_len) < 0) fail(999, "malformed reply from weftd", "not an HTTP/1.x response");
  /* 404/405: a weftd without the CNI endpoint. Run the in-process implementation instead. */
  if (status == 404 || status == 405) exec_fallback(&s, plugin, &in);
  if (status != 200) {
    char d[1100];
    snprintf(d, sizeof d, "HTTP %d: %.*s", status, (int)(payload_len > 1024 ? 1024 : payload_len), payload);
    fail(999, "weftd refused the request", d);
  }
  struct reply_frame f = {0};
  if (each_member(payload, payload_len, take_reply, &f) < 0 || !f.seen_code)
    fail(999, "malformed reply from weftd", "expected a JSON object with exitCode and an optional output object");
  if (f.output) {
    struct buf out = {0};
    buf_put(&out, f.output, f.output_len);
    buf_put(&out, "\n", 1);
    if (write_all(1, out.p, out.len) < 0) {
      fprintf(stderr, "weft CNI plugin: cannot write the result: %s\n", strerror(errno));
      return 1;
    }
  }
  return (int)f.code;
}
