/*
 * weft: the command a user types (dist/bin/weft, built by `npm run build`).
 *
 * Why C: Node's own start (`node -e 0`) is 120 ms on a quiet machine and ~300 ms on a loaded
 * one, so a Node CLI cannot get `weft run --network none -- true` within 150 ms of a bare
 * `unshare -n true`. This launcher runs exactly one common case itself, a foreground
 *
 *   weft [-H SOCK|--host SOCK|--host=SOCK] run [-d|--detach] [--name N] [--hostname H] [--dns IP]...
 *        [--network|--net none|host|container:NAME|NET]... -- CMD [ARGS...]
 *
 * (NET a plain network name: no ",alias=…" part), and execs the Node CLI (bin/weft.js, same
 * pid, same arguments) for everything else: other verbs, -p, --format, any flag or form not
 * listed, --help. For the case it runs it does what src/cli/run-command.ts does, step for step:
 * POST /v1/sandboxes with the body sandboxBodyFromRun() builds (test/unit/cli-launcher.test.ts
 * checks the two agree), start CMD through dist/bin/weft-exec, forward SIGINT/SIGTERM, DELETE
 * the sandbox when CMD exits, exit with CMD's status (128+N for a signal). With -d (as
 * `docker run -d`, the common way to start a server): CMD starts in its own session with its
 * output appended to the sandbox's output.log, the sandbox is handed to CMD's pid (PATCH), and
 * the sandbox id is printed; a CMD that cannot start or has already exited removes the sandbox. Errors print as the
 * Node CLI prints them ("Error: MESSAGE [CODE]", exit 2 for WEFT_INVALID_ARGUMENT, else 1).
 * When weftd cannot be reached before anything exists, the Node CLI is exec'd to report it,
 * so that message has one source. WEFT_TRACE=1 prints step timings like the Node CLI.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef WEFT_NODE
#define WEFT_NODE "/usr/bin/node"
#endif
#ifndef WEFT_REPO
#define WEFT_REPO "/opt/weft" /* the checkout that built this binary (scripts/build-cli.ts) */
#endif
#define DEFAULT_SOCKET "/run/weft/weft.sock" /* src/cli/client.ts DEFAULT_SOCKET */
#define TIMEOUT_MS 60000                     /* src/cli/client.ts WeftClient timeoutMs */
#define MAX_REPLY (4u << 20)
#define MAX_LIST 64
#define MAX_JSON_DEPTH 64

static int g_argc;
static char **g_argv;
static char self_dir[PATH_MAX];

/* ---- WEFT_TRACE=1: "weft-trace: main=… POST=… reply=… … exit=…", ms since main() ---- */
static int tracing;
static struct timespec t0;
static char trace_buf[512];
static size_t trace_len;

static double since_start(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6;
}

static void mark(const char *step) {
  if (!tracing || trace_len >= sizeof trace_buf) return;
  int n = snprintf(trace_buf + trace_len, sizeof trace_buf - trace_len, "%s=%.1f ", step, since_start());
  if (n > 0) trace_len += (size_t)n;
}

static void finish(int code) {
  if (tracing) fprintf(stderr, "weft-trace: %sexit=%.1f (compiled launcher)\n", trace_buf, since_start());
  exit(code);
}

/* ---- the Node CLI, for everything this launcher does not run itself ---- */
static void node_cli(void) {
  char script[PATH_MAX + 32];
  snprintf(script, sizeof script, "%s/../../bin/weft.js", self_dir);
  char **args = calloc((size_t)g_argc + 2, sizeof *args);
  if (!args) {
    fputs("Error: out of memory\n", stderr);
    exit(1);
  }
  args[0] = (char *)"node";
  args[1] = script;
  for (int i = 1; i < g_argc; i++) args[i + 1] = g_argv[i];
  if (access(WEFT_NODE, X_OK) == 0) execv(WEFT_NODE, args);
  execvp("node", args);
  fprintf(stderr, "Error: cannot start the weft CLI (node %s): %s\n", script, strerror(errno));
  exit(1);
}

/* ---- a growing buffer and JSON output ---- */
struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      fputs("Error: out of memory\n", stderr);
      exit(1);
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string literal, as JSON.stringify writes it (bytes >= 0x80 pass through as UTF-8). */
static void put_json(struct buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char e[2] = {'\\', (char)*c};
      put(b, e, 2);
    } else if (*c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
      put(b, e, 6);
    } else {
      put(b, (const char *)c, 1);
    }
  }
  put(b, "\"", 1);
}

static void put_json_list(struct buf *b, const char *key, const char *const *v, int n) {
  put_json(b, key);
  put(b, ":[", 2);
  for (int i = 0; i < n; i++) {
    if (i) put(b, ",", 1);
    put_json(b, v[i]);
  }
  put(b, "]", 1);
}

/* ---- the command line ---- */
struct run_args {
  int detach;
  const char *host, *name, *hostname;
  const char *networks[MAX_LIST], *nets[MAX_LIST], *dns[MAX_LIST];
  int n_networks, n_nets, n_dns;
  char **cmd;
};

/*
 * Option `opt` at argv[*i] (as "--opt VALUE" or "--opt=VALUE"): 1 and *val set, 0 if argv[*i]
 * is another option. A missing value, or one that looks like an option, sends the whole command
 * line to the Node CLI (commander's rules for those are its own).
 */
static int take(const char *opt, int *i, const char **val) {
  const char *a = g_argv[*i];
  size_t n = strlen(opt);
  if (strncmp(a, opt, n) != 0) return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
  } else if (a[n] == 0) {
    if (*i + 1 >= g_argc) node_cli();
    *val = g_argv[++*i];
  } else {
    return 0;
  }
  if ((*val)[0] == '-') node_cli();
  return 1;
}

static void push(const char **list, int *n, const char *v) {
  if (*n >= MAX_LIST) node_cli();
  list[(*n)++] = v;
}

/* Parse the fast-path form or exec the Node CLI. */
static void parse(struct run_args *r) {
  int i = 1;
  for (; i < g_argc && g_argv[i][0] == '-'; i++) {
    /* "-H VALUE" only: commander reads "-H=X" as the value "=X", which the Node CLI refuses. */
    if ((!strcmp(g_argv[i], "-H") && take("-H", &i, &r->host)) || take("--host", &i, &r->host)) continue;
    node_cli(); /* --version, --help, anything else */
  }
  if (i >= g_argc || strcmp(g_argv[i], "run") != 0) node_cli();
  for (i++; i < g_argc; i++) {
    const char *v;
    if (strcmp(g_argv[i], "--") == 0) break;
    if (!strcmp(g_argv[i], "-d") || !strcmp(g_argv[i], "--detach")) r->detach = 1;
    else if (take("--name", &i, &v)) r->name = v;
    else if (take("--hostname", &i, &v)) r->hostname = v;
    else if (take("--dns", &i, &v)) push(r->dns, &r->n_dns, v);
    else if (take("--network", &i, &v)) push(r->networks, &r->n_networks, v);
    else if (take("--net", &i, &v)) push(r->nets, &r->n_nets, v);
    else node_cli(); /* -p, --label, --format, -dX, CMD without "--", … */
  }
  if (i + 1 >= g_argc) node_cli(); /* no "--" or no CMD: commander's error */
  r->cmd = &g_argv[i + 1];
}

/* The socket as resolveHost() in src/cli/client.ts picks it; NULL = let the Node CLI decide. */
static const char *socket_path(const char *flag) {
  const char *raw = flag;
  const char *env_host = getenv("WEFT_HOST"), *env_socket = getenv("WEFT_SOCKET");
  if (!raw) raw = env_host && *env_host ? env_host : env_socket && *env_socket ? env_socket : DEFAULT_SOCKET;
  if (strncasecmp(raw, "unix://", 7) == 0) raw += 7;
  else if (strstr(raw, "://")) return NULL;
  if (raw[0] != '/' || strlen(raw) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return NULL;
  return raw;
}

/* The POST body, the one sandboxBodyFromRun() in src/cli/run-command.ts builds, plus pid. */
static void build_body(struct buf *b, const struct run_args *r) {
  const char *specs[2 * MAX_LIST];
  int n = 0;
  for (int k = 0; k < r->n_networks; k++) specs[n++] = r->networks[k];
  for (int k = 0; k < r->n_nets; k++) specs[n++] = r->nets[k];
  if (n == 0) specs[n++] = "bridge";
  const char *special = NULL;
  for (int k = 0; k < n && !special; k++)
    if (!strcmp(specs[k], "host") || !strcmp(specs[k], "none") || !strncmp(specs[k], "container:", 10)) special = specs[k];
  if (special && (n > 1 || !strcmp(special, "container:"))) node_cli(); /* its error message */
  for (int k = 0; k < n && !special; k++)
    if (specs[k][0] == 0 || strchr(specs[k], ',') || strchr(specs[k], '=')) node_cli(); /* parseNetworkFlag's */

  puts_(b, "{");
  if (r->name && *r->name) puts_(b, "\"name\":"), put_json(b, r->name), puts_(b, ",");
  if (r->hostname && *r->hostname) puts_(b, "\"hostname\":"), put_json(b, r->hostname), puts_(b, ",");
  put_json_list(b, "dns", r->dns, r->n_dns);
  puts_(b, ",\"publish\":[],\"publishAll\":false,\"expose\":[],\"labels\":{},\"kind\":");
  if (special && !strcmp(special, "host")) puts_(b, "\"host\"");
  else if (special && !strcmp(special, "none")) puts_(b, "\"netns\"");
  else if (special) puts_(b, "\"container\",\"containerOf\":"), put_json(b, special + 10);
  else puts_(b, "\"netns\"");
  puts_(b, ",\"networks\":[");
  for (int k = 0; k < n && !special; k++) {
    if (k) puts_(b, ",");
    puts_(b, "{\"network\":"), put_json(b, specs[k]), puts_(b, ",\"aliases\":[]}");
  }
  char pid[48];
  snprintf(pid, sizeof pid, "],\"pid\":%d}", (int)getpid());
  puts_(b, pid);
}

/* ---- HTTP over weftd's unix socket: one request per connection, as src/cli/client.ts ---- */
enum { REQ_OK = 0, REQ_CONNECT = -1, REQ_IO = -2, REQ_TIMEOUT = -3, REQ_MALFORMED = -4 };

struct reply {
  int status;
  const char *body;
  size_t body_len;
  struct buf raw;
  int err; /* errno of a failure */
};

static int request(const char *sock, const char *method, const char *path, const struct buf *body, struct reply *rep) {
  memset(rep, 0, sizeof *rep);
  struct buf req = {0};
  char head[512];
  snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: weftd\r\nConnection: close\r\n", method, path);
  puts_(&req, head);
  if (body) {
    snprintf(head, sizeof head, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body->len);
    puts_(&req, head);
  }
  puts_(&req, "\r\n");
  if (body) put(&req, body->p, body->len);
  mark(method);

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, sock, strlen(sock) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    rep->err = errno;
    if (fd >= 0) close(fd);
    free(req.p);
    return REQ_CONNECT;
  }
  struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc = REQ_OK;
  for (size_t off = 0; off < req.len && rc == REQ_OK;) {
    ssize_t w = send(fd, req.p + off, req.len - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) rep->err = errno, rc = errno == EAGAIN ? REQ_TIMEOUT : REQ_IO;
    else off += (size_t)w;
  }
  free(req.p);
  char chunk[16384];
  while (rc == REQ_OK) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rep->err = errno, rc = errno == EAGAIN ? REQ_TIMEOUT : REQ_IO;
    else if (n == 0) break;
    else if (rep->raw.len + (size_t)n > MAX_REPLY) rc = REQ_MALFORMED;
    else put(&rep->raw, chunk, (size_t)n);
  }
  close(fd);
  if (rc != REQ_OK) return rc;
  mark("reply");
  /* Status line and the body after the headers; weftd always sends Content-Length. */
  const char *r = rep->raw.p;
  if (!r || rep->raw.len < 12 || memcmp(r, "HTTP/1.", 7) != 0) return REQ_MALFORMED;
  rep->status = atoi(r + 9);
  const char *end = memmem(r, rep->raw.len, "\r\n\r\n", 4);
  if (!end || rep->status < 100) return REQ_MALFORMED;
  rep->body = end + 4;
  rep->body_len = rep->raw.len - (size_t)(rep->body - r);
  const char *cl = strcasestr(r, "\r\ncontent-length:");
  if (cl && cl < end && strtoul(cl + 17, NULL, 10) != rep->body_len) return REQ_MALFORMED;
  if (strcasestr(r, "\r\ntransfer-encoding:") && strcasestr(r, "\r\ntransfer-encoding:") < end) return REQ_MALFORMED;
  return REQ_OK;
}

/* ---- JSON: the members of a top-level object, found by a strict scanner ---- */
struct json {
  const char *p, *end;
  int depth;
};

static void ws(struct json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) j->p++;
}

static int hex4(const char *h, unsigned *cp) {
  *cp = 0;
  for (int k = 0; k < 4; k++) {
    char c = h[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    *cp = *cp * 16 + (unsigned)d;
  }
  return 0;
}

static void put_utf8(struct buf *out, unsigned cp) {
  char u[4];
  size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
  for (size_t k = n - 1; k > 0; k--, cp >>= 6) u[k] = (char)(0x80 | (cp & 63));
  u[0] = (char)(n == 1 ? cp : (lead[n] | cp));
  put(out, u, n);
}

/* A string at j->p; decoded (UTF-8, NUL-terminated) into out when out is given. */
static int string(struct json *j, struct buf *out) {
  if (j->p >= j->end || *j->p != '"') return -1;
  if (out) put(out, "", 0);
  for (j->p++; j->p < j->end; j->p++) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') return j->p++, 0;
    if (c < 0x20) return -1;
    if (c != '\\') {
      if (out) put(out, (const char *)&c, 1);
      continue;
    }
    if (++j->p >= j->end) return -1;
    char e;
    switch (*j->p) {
      case '"': e = '"'; break;
      case '\\': e = '\\'; break;
      case '/': e = '/'; break;
      case 'b': e = '\b'; break;
      case 'f': e = '\f'; break;
      case 'n': e = '\n'; break;
      case 'r': e = '\r'; break;
      case 't': e = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (j->end - j->p < 5 || hex4(j->p + 1, &cp) < 0) return -1;
        j->p += 4;
        /* A surrogate pair, as JSON.stringify never splits one (a lone half stays as it is). */
        if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 7 && j->p[1] == '\\' && j->p[2] == 'u' &&
            hex4(j->p + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          j->p += 6;
        }
        if (out) put_utf8(out, cp);
        continue;
      }
      default: return -1;
    }
    if (out) put(out, &e, 1);
  }
  return -1;
}

static int value(struct json *j) {
  ws(j);
  if (j->p >= j->end) return -1;
  char c = *j->p;
  if (c == '"') return string(j, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    if (++j->depth > MAX_JSON_DEPTH) return -1;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) return j->p++, j->depth--, 0;
    for (;;) {
      if (c == '{') {
        ws(j);
        if (string(j, NULL) < 0) return -1;
        ws(j);
        if (j->p >= j->end || *j->p++ != ':') return -1;
      }
      if (value(j) < 0) return -1;
      ws(j);
      if (j->p >= j->end) return -1;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != close) return -1;
      j->depth--;
      return 0;
    }
  }
  /* A number, true, false or null: the characters they are made of (weftd wrote them). */
  const char *s = j->p;
  while (j->p < j->end && *j->p && strchr("0123456789+-.eEtrufalsn", *j->p)) j->p++;
  return j->p > s ? 0 : -1;
}

struct span {
  const char *p;
  size_t n;
};

/* The values of the members named in keys[] of the JSON object in s (absent: n = 0). */
static int members(struct span s, const char **keys, struct span *vals, int nkeys) {
  struct json j = {s.p, s.p + s.n, 0};
  memset(vals, 0, sizeof *vals * (size_t)nkeys);
  ws(&j);
  if (j.p >= j.end || *j.p++ != '{') return -1;
  ws(&j);
  if (j.p < j.end && *j.p == '}') return 0;
  for (;;) {
    struct buf key = {0};
    ws(&j);
    int bad = string(&j, &key);
    ws(&j);
    if (bad < 0 || j.p >= j.end || *j.p++ != ':') return free(key.p), -1;
    ws(&j);
    int k = 0;
    while (k < nkeys && strcmp(key.p, keys[k]) != 0) k++;
    free(key.p);
    const char *at = j.p;
    if (value(&j) < 0) return -1;
    if (k < nkeys) vals[k] = (struct span){at, (size_t)(j.p - at)};
    ws(&j);
    if (j.p >= j.end) return -1;
    if (*j.p == ',') {
      j.p++;
      continue;
    }
    return *j.p == '}' ? 0 : -1;
  }
}

/* A member's string value, decoded; NULL when absent or not a string. */
static char *text(struct span v) {
  struct json j = {v.p, v.p + v.n, 0};
  struct buf out = {0};
  if (v.n == 0 || *v.p != '"' || string(&j, &out) < 0) return free(out.p), NULL;
  return out.p;
}

/* ---- errors, printed as report() in src/cli/main.ts prints them ---- */
static void die(const char *code, const char *fmt, ...) {
  va_list ap;
  fputs("Error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (strcmp(code, "WEFT_INTERNAL") != 0) fprintf(stderr, " [%s]", code);
  fputc('\n', stderr);
  finish(strcmp(code, "WEFT_INVALID_ARGUMENT") == 0 ? 2 : 1);
}

/* A request that did not get an HTTP answer, in the words of WeftClient (src/cli/client.ts). */
static void die_request(int rc, const struct reply *rep, const char *sock, const char *what) {
  int e = rep->err;
  if (rc == REQ_TIMEOUT) die("WEFT_TIMEOUT", "weftd at %s: %s timed out after %d ms", sock, what, TIMEOUT_MS);
  if (rc == REQ_MALFORMED) die("WEFT_INTERNAL", "weftd sent a malformed HTTP reply");
  if (e == ENOENT) die("WEFT_DAEMON_UNREACHABLE", "cannot reach weftd at %s: no such socket (is weftd running? see -H / WEFT_HOST)", sock);
  if (e == ECONNREFUSED) die("WEFT_DAEMON_UNREACHABLE", "cannot reach weftd at %s: connection refused (weftd is not listening)", sock);
  if (e == ENOTSOCK || e == ENOTDIR) die("WEFT_DAEMON_UNREACHABLE", "cannot reach weftd at %s: not a unix socket", sock);
  if (e == EACCES || e == EPERM) die("WEFT_PERMISSION", "permission denied on %s: the weft API is for root only", sock);
  if (e == EPIPE || e == ECONNRESET)
    die("WEFT_DAEMON_UNREACHABLE", "cannot reach weftd at %s: connection closed by weftd (%s)", sock, e == EPIPE ? "EPIPE" : "ECONNRESET");
  die("WEFT_INTERNAL", "weftd at %s: %s", sock, strerror(e));
}

/* The code of an HTTP error reply {"error":{"code","message"}} (NULL if it has none). */
static char *error_field(const struct reply *rep, const char *field) {
  const char *top[] = {"error"}, *keys[] = {field};
  struct span err, v;
  if (members((struct span){rep->body, rep->body_len}, top, &err, 1) < 0 || err.n == 0) return NULL;
  if (members(err, keys, &v, 1) < 0) return NULL;
  return text(v);
}

/* An HTTP error reply, printed as WeftClient.decode() + report() print it. */
static void die_reply(const struct reply *rep) {
  struct json j = {rep->body, rep->body + rep->body_len, 0};
  ws(&j);
  if (j.p < j.end) { /* a body that is not JSON: JSON.parse would throw */
    if (value(&j) < 0 || (ws(&j), j.p != j.end)) die("WEFT_INTERNAL", "weftd sent a malformed reply (HTTP %d)", rep->status);
  }
  char *code = error_field(rep, "code"), *message = error_field(rep, "message");
  if (!code) code = (char *)"WEFT_INTERNAL";
  if (message) die(code, "%s", message);
  die(code, "HTTP %d", rep->status);
}

/* ---- signals: SIGINT/SIGTERM go to the command, as run-command.ts forwards them ---- */
static volatile sig_atomic_t child_pid;

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* Whether the child has exited (reaped here); 0 while it runs. */
static int child_gone(pid_t pid) {
  int st;
  pid_t w;
  while ((w = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
  }
  return w == pid || (w < 0 && errno == ECHILD);
}

/* DELETE the sandbox; "already gone" (WEFT_NOT_FOUND) is fine, as removeSandbox() in run-command.ts. */
static void remove_sandbox(const char *sock, const char *path) {
  struct reply rep;
  int rc = request(sock, "DELETE", path, NULL, &rep);
  if (rc != REQ_OK) {
    char what[300];
    snprintf(what, sizeof what, "DELETE %s", path);
    die_request(rc, &rep, sock, what);
  }
  if (rep.status >= 400) {
    char *code_of = error_field(&rep, "code");
    if (!code_of || strcmp(code_of, "WEFT_NOT_FOUND") != 0) die_reply(&rep);
  }
}

/*
 * -d, as detach() in run-command.ts: CMD (args, through weft-exec) in its own session, stdin
 * /dev/null, stdout and stderr appended to the sandbox's output.log; the sandbox handed over to
 * its pid; the sandbox id printed. Exec failures come back through a close-on-exec pipe, so a
 * CMD that cannot start is reported (and its sandbox removed) like the Node CLI's spawn error.
 */
static void run_detached(const char *sock, char *const *sb, char **args) {
  char path[256];
  snprintf(path, sizeof path, "/v1/sandboxes/%s", sb[0]);
  char log[PATH_MAX];
  const char *hosts = sb[2];
  const char *slash = hosts ? strrchr(hosts, '/') : NULL;
  if (slash && (size_t)(slash - hosts) + sizeof "/output.log" <= sizeof log)
    snprintf(log, sizeof log, "%.*s/output.log", (int)(slash - hosts), hosts);
  else
    snprintf(log, sizeof log, "/dev/null");
  int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int pipefd[2];
  if (out < 0 || in < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
    int e = errno;
    remove_sandbox(sock, path);
    die("WEFT_INTERNAL", "weft run -d: %s: %s", out < 0 ? log : "pipe", strerror(e));
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(args[0], args);
    int e = errno;
    ssize_t w = write(pipefd[1], &e, sizeof e);
    (void)w;
    _exit(126);
  }
  int start_err = errno;
  close(pipefd[1]);
  close(out);
  close(in);
  if (pid > 0) {
    int e = 0;
    ssize_t n;
    while ((n = read(pipefd[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof e) pid = -1, start_err = e;
  }
  close(pipefd[0]);
  if (pid < 0) {
    remove_sandbox(sock, path);
    die("WEFT_INTERNAL", "spawn %s: %s", args[0], strerror(start_err));
  }
  mark("spawned");

  struct buf body = {0};
  char pidbody[48];
  snprintf(pidbody, sizeof pidbody, "{\"pid\":%d}", (int)pid);
  puts_(&body, pidbody);
  struct reply rep;
  int rc = request(sock, "PATCH", path, &body, &rep);
  if (rc != REQ_OK || rep.status >= 400) {
    /* A command that ended at once needs no owner: remove its sandbox. Else, as the Node CLI, stop it. */
    int gone = 0;
    for (int k = 0; k < 100 && !(gone = child_gone(pid)); k++) usleep(10000);
    if (!gone) {
      kill(pid, SIGKILL);
      remove_sandbox(sock, path);
      char what[300];
      snprintf(what, sizeof what, "PATCH %s", path);
      if (rc != REQ_OK) die_request(rc, &rep, sock, what);
      die_reply(&rep);
    }
    remove_sandbox(sock, path);
  } else if (child_gone(pid)) {
    /* Gone before weftd recorded it (seen as a zombie): remove now rather than at weftd's next pass. */
    remove_sandbox(sock, path);
  }
  printf("%s\n", sb[0]);
  fflush(stdout);
  finish(0);
}

int main(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &t0);
  g_argc = argc;
  g_argv = argv;
  tracing = getenv("WEFT_TRACE") && strcmp(getenv("WEFT_TRACE"), "1") == 0;
  ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
  if (n <= 0) {
    fprintf(stderr, "Error: cannot find the weft installation (/proc/self/exe): %s\n", strerror(errno));
    return 1;
  }
  self_dir[n] = 0;
  *strrchr(self_dir, '/') = 0;
  /* A copy outside the checkout (not a symlink to it) finds its files where it was built. */
  char probe[PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/../../bin/weft.js", self_dir);
  if (access(probe, R_OK) != 0) snprintf(self_dir, sizeof self_dir, "%s", WEFT_REPO "/dist/bin");

  struct run_args r = {0};
  parse(&r);
  const char *sock = socket_path(r.host);
  char helper[PATH_MAX + 16];
  snprintf(helper, sizeof helper, "%s/weft-exec", self_dir);
  if (!sock || access(helper, X_OK) != 0) node_cli(); /* its error messages */
  mark("main");

  struct buf body = {0};
  build_body(&body, &r);
  struct reply rep;
  int rc = request(sock, "POST", "/v1/sandboxes", &body, &rep);
  if (rc == REQ_CONNECT) node_cli(); /* nothing was created: the Node CLI reports it */
  if (rc != REQ_OK) die_request(rc, &rep, sock, "POST /v1/sandboxes");
  if (rep.status >= 400) die_reply(&rep);
  const char *keys[] = {"id", "netnsPath", "hostsPath", "resolvPath", "hostname"};
  struct span v[5];
  char *sb[5] = {0};
  if (members((struct span){rep.body, rep.body_len}, keys, v, 5) == 0)
    for (int k = 0; k < 5; k++) sb[k] = text(v[k]);
  /* Unreadable: the sandbox is tied to this pid, so weftd releases it when we exit. */
  if (!sb[0] || !sb[1] || strlen(sb[0]) > 128) die("WEFT_INTERNAL", "weftd sent a malformed reply (HTTP %d)", rep.status);

  /* weft-exec NETNS HOSTS RESOLV HOSTNAME -- CMD…, as launchInSandbox() (sandbox-launch.ts) */
  int ncmd = 0;
  while (r.cmd[ncmd]) ncmd++;
  char **args = calloc((size_t)ncmd + 7, sizeof *args);
  if (!args) die("WEFT_INTERNAL", "out of memory");
  args[0] = helper;
  for (int k = 1; k <= 4; k++) args[k] = sb[k] ? sb[k] : (char *)"";
  args[5] = (char *)"--";
  for (int k = 0; k < ncmd; k++) args[6 + k] = r.cmd[k];
  if (r.detach) run_detached(sock, sb, args);

  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execv(helper, args);
    fprintf(stderr, "weft: exec %s: %s\n", helper, strerror(errno));
    _exit(126);
  }
  int start_err = errno;
  if (pid > 0) {
    child_pid = pid;
    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);

  char path[256];
  snprintf(path, sizeof path, "/v1/sandboxes/%s", sb[0]);
  int code = 0;
  if (pid < 0) {
    /* As run-command.ts: the launch failed, remove the sandbox, report the launch error. */
    rc = request(sock, "DELETE", path, NULL, &rep);
    die("WEFT_INTERNAL", "spawn %s: %s", helper, strerror(start_err));
  }
  mark("spawned");
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  mark("exited");
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

  remove_sandbox(sock, path);
  finish(code);
}
