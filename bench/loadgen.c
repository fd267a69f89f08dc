/*
 * loadgen: the WebSocket load generator of undercurrent's benchmark (bench/run.ts builds it with
 * `cc -O2` into bench/.build/ and runs it against one server at a time).
 *
 * One thread, epoll, non-blocking sockets with TCP_NODELAY. Every client frame is masked with a
 * non-zero key, and consecutive frames on a connection use different keys. Every echo and every
 * broadcast delivery is checked: opcode, length and every payload byte. Output: one JSON line on
 * stdout (a readable summary goes to stderr).
 *
 *   loadgen -m echo|broadcast|connect|idle -p PORT [options]
 *     -H host     target address, must be in 127.0.0.0/8 (127.0.0.1)
 *     -u path     request path (/)
 *     -c N        connections (echo, broadcast: all receive, the first one also sends; idle)
 *     -w N        messages in flight per connection (echo) or in total (broadcast)
 *     -s SIZE     payload bytes, k/m suffixes (64); at most 16m
 *     -t TYPE     binary or text (binary)
 *     -d SEC      measured seconds (5), at most 600; idle: seconds to hold the connections
 *     -W SEC      warm-up seconds before measuring (2), at most 60
 *     -n N        connect: stop after N handshakes in the measured window (20000)
 *     -C N        connections being opened at once (64)
 *     -a N        spread source addresses over 127.0.0.1 .. 127.0.0.N (1)
 *     -x PID      the server's pid: its CPU time and VmRSS are read from /proc
 *     -T SEC      setup timeout (30), at most 120
 *     -e SEC      idle: settle time between the last open and the second RSS reading (2)
 *     -l LABEL    copied into the JSON
 *     -2          echo over HTTP/2 cleartext (h2c, prior knowledge): each connection is an HTTP/2
 *                 session whose stream 1 is an extended CONNECT WebSocket (RFC 8441)
 *
 * Every phase has a deadline, and a watchdog alarm ends the process if the loop itself hangs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_SIZE (16u << 20)
#define RBUF_SIZE (256 * 1024)
#define HS_MAX 4096
#define ATTEMPT_TIMEOUT_NS (5 * NS)
#define CLOSE_TIMEOUT_NS (3 * NS)
#define STALL_NS (5 * NS)
#define NS 1000000000ull

enum { M_ECHO, M_BCAST, M_CONNECT, M_IDLE };
enum { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };
enum { P_SETUP, P_WARM, P_MEASURE, P_DRAIN, P_SETTLE, P_HOLD, P_CHECK, P_CLOSE, P_END };
enum { E_CONNECT, E_HANDSHAKE, E_PROTOCOL, E_PAYLOAD, E_RESET, E_TIMEOUT, E_CLOSE, E_KINDS };
static const char *const ERR_NAMES[E_KINDS] = {"connect", "handshake", "protocol", "payload",
                                                "reset",   "timeout",   "close"};

/* ---------------------------------------------------------------- configuration */

static struct {
  int mode;
  struct in_addr host;
  int port;
  const char *path;
  int conns, window, concurrent, addrs, text;
  size_t size;
  double dur, warm, setup_timeout, settle;
  long max_handshakes;
  int pid;
  const char *label;
  int h2;
} cfg = {.mode = -1,
         .path = "/",
         .conns = 1,
         .window = 1,
         .concurrent = 64,
         .addrs = 1,
         .size = 64,
         .dur = 5,
         .warm = 2,
         .setup_timeout = 30,
         .settle = 2,
         .max_handshakes = 20000,
         .label = ""};

static void die(const char *msg) {
  fprintf(stderr, "loadgen: %s\n", msg);
  exit(2);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rng(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
static uint32_t nonzero_key(void) {
  for (;;) {
    uint32_t k = (uint32_t)(rng() >> 16);
    if ((k & 0xff) && (k & 0xff00) && (k & 0xff0000) && (k & 0xff000000)) return k;
  }
}

/* ---------------------------------------------------------------- SHA-1 and base64 (RFC 3174, RFC 4648) */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  uint8_t *m = calloc(total, 1);
  if (!m) die("out of memory");
  memcpy(m, msg, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) m[total - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)m[off + 4 * i] << 24 | (uint32_t)m[off + 4 * i + 1] << 16 |
             (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  free(m);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void base64(const uint8_t *in, size_t len, char *out) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    out[o++] = T[v >> 18 & 63];
    out[o++] = T[v >> 12 & 63];
    out[o++] = i + 1 < len ? T[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? T[v & 63] : '=';
  }
  out[o] = 0;
}

/* ---------------------------------------------------------------- latency histogram
 * Values in ns. Below 64 ns one bucket per ns; above, 32 buckets per power of two (under 3.2% wide). */

#define H_SUB 32
#define H_BUCKETS (64 + 58 * H_SUB)
static uint64_t hist[H_BUCKETS];
static uint64_t hist_n, hist_max;
static double hist_sum;

static int h_index(uint64_t v) {
  if (v < 64) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  return 64 + (msb - 6) * H_SUB + (int)((v >> (msb - 5)) & (H_SUB - 1));
}
static uint64_t h_value(int i) { /* the middle of bucket i */
  if (i < 64) return (uint64_t)i;
  int msb = (i - 64) / H_SUB + 6, sub = (i - 64) % H_SUB;
  uint64_t lo = (uint64_t)(H_SUB + sub) << (msb - 5);
  return lo + (1ull << (msb - 5)) / 2;
}
static void h_add(uint64_t v) {
  int i = h_index(v);
  if (i >= H_BUCKETS) i = H_BUCKETS - 1;
  hist[i]++;
  hist_n++;
  hist_sum += (double)v;
  if (v > hist_max) hist_max = v;
}
static double h_pct(double p) {
  if (!hist_n) return 0;
  uint64_t want = (uint64_t)((double)hist_n * p / 100.0);
  if (want >= hist_n) want = hist_n - 1;
  uint64_t seen = 0;
  for (int i = 0; i < H_BUCKETS; i++) {
    seen += hist[i];
    if (seen > want) return (double)(h_value(i) < hist_max ? h_value(i) : hist_max) / 1000.0;
  }
  return (double)hist_max / 1000.0;
}

/* ---------------------------------------------------------------- payloads */

/* Echo and idle: K templates, each a plain payload and the same payload as one complete masked
 * frame with its own key. A message is a template index; its echo is compared with the plain copy. */
static int ntpl;
static uint8_t **tpl_plain, **tpl_frame;
static size_t tpl_frame_len;
static uint8_t close_frame[8];

static size_t frame_header(uint8_t *out, int opcode, size_t n, uint32_t key) {
  size_t h = 0;
  out[h++] = (uint8_t)(0x80 | opcode);
  if (n < 126) out[h++] = (uint8_t)(0x80 | n);
  else if (n < 65536) out[h++] = 0x80 | 126, out[h++] = (uint8_t)(n >> 8), out[h++] = (uint8_t)n;
  else {
    out[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  for (int i = 0; i < 4; i++) out[h++] = (uint8_t)(key >> (24 - 8 * i));
  return h;
}
/* Writes a masked frame of `plain` into out; returns its length. */
static size_t build_frame(uint8_t *out, int opcode, const uint8_t *plain, size_t n) {
  uint32_t key = nonzero_key();
  size_t h = frame_header(out, opcode, n, key);
  uint8_t k[4] = {(uint8_t)(key >> 24), (uint8_t)(key >> 16), (uint8_t)(key >> 8), (uint8_t)key};
  for (size_t i = 0; i < n; i++) out[h + i] = plain[i] ^ k[i & 3];
  return h + n;
}
static void fill_payload(uint8_t *p, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    uint8_t b = (uint8_t)(s >> 56);
    p[i] = cfg.text ? (uint8_t)('!' + b % 94) : b; /* text: printable ASCII, so valid UTF-8 */
  }
}
static void make_templates(void) {
  size_t budget = 16u << 20;
  ntpl = (int)(budget / (cfg.size ? cfg.size : 1));
  if (ntpl > 256) ntpl = 256;
  if (ntpl < 2) ntpl = 2;
  tpl_plain = calloc((size_t)ntpl, sizeof *tpl_plain);
  tpl_frame = calloc((size_t)ntpl, sizeof *tpl_frame);
  if (!tpl_plain || !tpl_frame) die("out of memory");
  for (int t = 0; t < ntpl; t++) {
    tpl_plain[t] = malloc(cfg.size ? cfg.size : 1);
    tpl_frame[t] = malloc(cfg.size + 14);
    if (!tpl_plain[t] || !tpl_frame[t]) die("out of memory");
    fill_payload(tpl_plain[t], cfg.size, (uint64_t)t + 1);
    tpl_frame_len = build_frame(tpl_frame[t], cfg.text ? 1 : 2, tpl_plain[t], cfg.size);
  }
  uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
  build_frame(close_frame, 8, code, 2);
}

/* Broadcast: W slots; a message lives in slot seq % W until every connection has it. */
typedef struct {
  uint64_t seq, sent_at;
  int remaining, used;
  uint8_t *plain, *frame;
  size_t frame_len;
} slot_t;
static slot_t *slots;
static uint64_t b_next_seq;
static int b_in_flight;

/* ---------------------------------------------------------------- connections */

typedef struct {
  const uint8_t *p;
  size_t len;
  uint8_t *owned;
} outent;

typedef struct conn {
  int fd, id, state;
  uint32_t ev;
  outent *q;
  int qcap, qhead, qn;
  size_t qoff;
  int dirty;
  char *hs;
  int hslen;
  char accept[32];
  uint64_t started, deadline;
  /* the frame being read */
  uint8_t hdr[14];
  int hdrlen, in_payload, opcode, fin;
  uint64_t plen, pgot;
  /* the message being read */
  int msg_op, msg_bad;
  uint64_t msg_off;
  uint8_t ctl[125];
  /* echo: messages in flight, a ring of (template, send time) */
  int *fl_tpl;
  uint64_t *fl_at;
  int fl_head, fl_n;
  uint64_t sent;
  /* broadcast: the next sequence number expected */
  uint64_t next_seq;
  int close_sent, close_rcvd;
  /* HTTP/2 (-2): the session, whose stream 1 carries the WebSocket */
  int h2st;
  uint8_t fh[9];
  int fhlen, fpadded;
  uint32_t flen, fgot, fpad, fstream;
  uint8_t ftype, fflags;
  uint8_t *fbuf;                /* a non-DATA frame's payload */
  uint8_t *hblock;              /* the response's header block (HEADERS + CONTINUATION) */
  size_t hblen;
  int hopen, connect_protocol;
  int64_t send_conn, send_stream, recv_conn, recv_stream; /* flow-control windows (RFC 9113 §6.9) */
  uint32_t max_frame, peer_initial_window;
  outent *sq;                   /* WebSocket bytes not yet sent in DATA frames */
  int sqcap, sqhead, sqn;
  size_t sqoff;
  int end_wanted, end_sent;     /* our END_STREAM, after the close frame */
} conn;

static conn *conns;
static int nconns; /* size of the conns array */
static int epfd;
static uint8_t rbuf[RBUF_SIZE];
static conn **dirty;
static int ndirty;

/* counters */
static int phase = P_SETUP;
static uint64_t errs[E_KINDS];
static uint64_t count, bytes_verified, last_progress;
static uint64_t started_total, opened, failed_setup, n_open, n_pending;
static uint64_t closed_clean, alive_verified, last_counted_at;
static int measuring;

static void set_events(conn *c, uint32_t ev) {
  if (c->ev == ev) return;
  struct epoll_event e = {.events = ev, .data.ptr = c};
  if (epoll_ctl(epfd, c->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0) die("epoll_ctl");
  c->ev = ev;
}

static void conn_release(conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  for (int i = 0; i < c->qn; i++) free(c->q[(c->qhead + i) % c->qcap].owned);
  c->qn = 0;
  c->qhead = 0;
  c->qoff = 0;
  free(c->hs);
  c->hs = NULL;
  for (int i = 0; i < c->sqn; i++) free(c->sq[(c->sqhead + i) % c->sqcap].owned);
  free(c->sq);
  free(c->fbuf);
  free(c->hblock);
  c->sq = NULL, c->fbuf = c->hblock = NULL;
  c->sqn = c->sqcap = c->sqhead = 0;
  if (c->state == ST_OPEN || c->state == ST_CLOSING) n_open--;
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) n_pending--;
  c->state = ST_DONE;
  c->ev = 0;
  c->deadline = 0;
}
static void conn_fail(conn *c, int kind) {
  if (c->state == ST_DONE || c->state == ST_FREE) return;
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) failed_setup++;
  errs[kind]++;
  conn_release(c);
}

static void enqueue(conn *c, const uint8_t *p, size_t len, uint8_t *owned) {
  if (c->qn == c->qcap) {
    int ncap = c->qcap ? c->qcap * 2 : 4;
    outent *nq = malloc((size_t)ncap * sizeof *nq);
    if (!nq) die("out of memory");
    for (int i = 0; i < c->qn; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qcap = ncap;
    c->qhead = 0;
  }
  c->q[(c->qhead + c->qn) % c->qcap] = (outent){p, len, owned};
  c->qn++;
  if (!c->dirty) {
    c->dirty = 1;
    dirty[ndirty++] = c;
  }
}

/* Queues WebSocket bytes: on the socket (HTTP/1.1), or for DATA frames on stream 1 (HTTP/2), which
 * h2_pump makes before each write as flow control allows. */
static void ws_out(conn *c, const uint8_t *p, size_t len, uint8_t *owned) {
  if (!cfg.h2) {
    enqueue(c, p, len, owned);
    return;
  }
  if (c->sqn == c->sqcap) {
    int ncap = c->sqcap ? c->sqcap * 2 : 16;
    outent *nq = malloc((size_t)ncap * sizeof *nq);
    if (!nq) die("out of memory");
    for (int i = 0; i < c->sqn; i++) nq[i] = c->sq[(c->sqhead + i) % c->sqcap];
    free(c->sq);
    c->sq = nq;
    c->sqcap = ncap;
    c->sqhead = 0;
  }
  c->sq[(c->sqhead + c->sqn) % c->sqcap] = (outent){p, len, owned};
  c->sqn++;
  if (!c->dirty) {
    c->dirty = 1;
    dirty[ndirty++] = c;
  }
}

static void flush(conn *c) {
  while (c->qn) {
    struct iovec iov[64];
    int k = 0;
    size_t total = 0;
    for (int i = 0; i < c->qn && k < 64; i++, k++) {
      outent *e = &c->q[(c->qhead + i) % c->qcap];
      size_t skip = i == 0 ? c->qoff : 0;
      iov[k].iov_base = (void *)(e->p + skip);
      iov[k].iov_len = e->len - skip;
      total += iov[k].iov_len;
    }
    ssize_t w = writev(c->fd, iov, k);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      conn_fail(c, E_RESET);
      return;
    }
    size_t left = (size_t)w;
    while (left) {
      outent *e = &c->q[c->qhead];
      size_t rem = e->len - c->qoff;
      if (left >= rem) {
        left -= rem;
        free(e->owned);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qn--;
        c->qoff = 0;
      } else {
        c->qoff += left;
        left = 0;
      }
    }
    if ((size_t)w < total) break;
  }
  set_events(c, EPOLLIN | (c->qn ? EPOLLOUT : 0));
}

static void send_close(conn *c, uint64_t now) {
  if (c->close_sent) return;
  c->close_sent = 1;
  ws_out(c, close_frame, sizeof close_frame, NULL);
  c->end_wanted = cfg.h2; /* HTTP/2: then END_STREAM, our half of stream 1 is closed */
  c->state = ST_CLOSING;
  c->deadline = now + CLOSE_TIMEOUT_NS;
}

/* Echo: queue the next template on c. */
static void echo_send(conn *c, uint64_t now) {
  int t = (int)((c->sent++ + (uint64_t)c->id * 7) % (uint64_t)ntpl);
  int at = (c->fl_head + c->fl_n) % cfg.window;
  c->fl_tpl[at] = t;
  c->fl_at[at] = now;
  c->fl_n++;
  ws_out(c, tpl_frame[t], tpl_frame_len, NULL);
}

static void bcast_pump(uint64_t now) {
  conn *s = &conns[0];
  if (s->state != ST_OPEN) return;
  while (b_in_flight < cfg.window && (phase == P_WARM || phase == P_MEASURE)) {
    uint64_t seq = b_next_seq++;
    slot_t *sl = &slots[seq % (uint64_t)cfg.window];
    sl->seq = seq;
    sl->sent_at = now;
    sl->remaining = (int)n_open;
    sl->used = 1;
    char head[24];
    snprintf(head, sizeof head, "%016llx ", (unsigned long long)seq);
    for (size_t i = 0; i < cfg.size; i++) sl->plain[i] = i < 17 ? (uint8_t)head[i] : (uint8_t)('a' + (seq + i) % 26);
    sl->frame_len = build_frame(sl->frame, cfg.text ? 1 : 2, sl->plain, cfg.size);
    b_in_flight++;
    ws_out(s, sl->frame, sl->frame_len, NULL);
  }
}

static void handshake_request(conn *c) {
  uint8_t key[16], digest[20];
  char key64[32], req[512], cat[96];
  for (int i = 0; i < 16; i++) key[i] = (uint8_t)rng();
  base64(key, 16, key64);
  int n = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key64);
  sha1((uint8_t *)cat, (size_t)n, digest);
  base64(digest, 20, c->accept);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &cfg.host, host, sizeof host);
  n = snprintf(req, sizeof req,
               "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
               cfg.path, host, cfg.port, key64);
  uint8_t *copy = malloc((size_t)n);
  if (!copy) die("out of memory");
  memcpy(copy, req, (size_t)n);
  enqueue(c, copy, (size_t)n, copy);
  c->state = ST_HANDSHAKE;
}

static void conn_start(conn *c, int id, uint64_t now) {
  /* keep the buffers of an earlier attempt on this slot */
  int *fl_tpl = c->fl_tpl;
  uint64_t *fl_at = c->fl_at;
  outent *q = c->q;
  int qcap = c->qcap;
  memset(c, 0, sizeof *c);
  c->fl_tpl = fl_tpl;
  c->fl_at = fl_at;
  c->q = q;
  c->qcap = qcap;
  c->id = id;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  started_total++;
  n_pending++;
  c->state = ST_CONNECTING;
  c->started = now;
  c->deadline = now + (cfg.mode == M_CONNECT ? ATTEMPT_TIMEOUT_NS : (uint64_t)(cfg.setup_timeout * NS));
  if (c->fd < 0) {
    c->fd = -1;
    conn_fail(c, E_CONNECT);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg.addrs > 1) {
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(id % cfg.addrs));
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
      conn_fail(c, E_CONNECT);
      return;
    }
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port), .sin_addr = cfg.host};
  if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    conn_fail(c, E_CONNECT);
    return;
  }
  set_events(c, EPOLLOUT);
}

static void on_open(conn *c, uint64_t now);
static void on_message(conn *c, uint64_t now);

/* Checks the 101 response in c->hs; returns the header length, 0 if incomplete, -1 if bad. */
static int check_response(conn *c) {
  char *end = memmem(c->hs, (size_t)c->hslen, "\r\n\r\n", 4);
  if (!end) return c->hslen >= HS_MAX ? -1 : 0;
  int hlen = (int)(end - c->hs) + 4;
  *end = 0;
  if (strncmp(c->hs, "HTTP/1.1 101 ", 13) != 0) return -1;
  int upgrade = 0, connection = 0, accept = 0;
  for (char *line = strstr(c->hs, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
    char *name = line + 2, *colon = strchr(name, ':');
    char *eol = strstr(name, "\r\n");
    if (!colon || (eol && colon > eol)) return -1;
    char *val = colon + 1;
    while (*val == ' ' || *val == '\t') val++;
    size_t vlen = eol ? (size_t)(eol - val) : strlen(val);
    while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t')) vlen--;
    size_t nlen = (size_t)(colon - name);
    if (nlen == 7 && !strncasecmp(name, "upgrade", 7)) upgrade = vlen == 9 && !strncasecmp(val, "websocket", 9);
    else if (nlen == 10 && !strncasecmp(name, "connection", 10)) {
      for (size_t i = 0; i + 7 <= vlen; i++)
        if (!strncasecmp(val + i, "upgrade", 7)) connection = 1;
    } else if (nlen == 20 && !strncasecmp(name, "sec-websocket-accept", 20))
      accept = vlen == strlen(c->accept) && !strncmp(val, c->accept, vlen);
    else if (nlen == 24 && !strncasecmp(name, "sec-websocket-extensions", 24))
      return -1; /* none was offered */
  }
  return upgrade && connection && accept ? hlen : -1;
}

static void on_data(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  if (c->in_payload == 0) return;
  if (c->opcode >= 8) {
    memcpy(c->ctl + c->pgot, p, n);
    return;
  }
  const uint8_t *want = NULL;
  if (cfg.mode == M_BCAST) {
    slot_t *sl = &slots[c->next_seq % (uint64_t)cfg.window];
    if (sl->used && sl->seq == c->next_seq) want = sl->plain;
  } else if (c->fl_n) {
    want = tpl_plain[c->fl_tpl[c->fl_head]];
  }
  (void)now;
  if (!want || c->msg_off + n > cfg.size || memcmp(want + c->msg_off, p, n) != 0) c->msg_bad = 1;
  c->msg_off += n;
}

static void frame_end(conn *c, uint64_t now) {
  int op = c->opcode;
  if (op == 9) { /* ping: answer with a masked pong carrying the same payload */
    uint8_t *pong = malloc(c->plen + 14);
    if (!pong) die("out of memory");
    size_t len = build_frame(pong, 10, c->ctl, c->plen);
    ws_out(c, pong, len, pong);
  } else if (op == 8) {
    c->close_rcvd = 1;
    if (!c->close_sent) { /* the server closed first: not expected in any mode */
      errs[E_CLOSE]++;
      send_close(c, now);
    }
    c->deadline = now + CLOSE_TIMEOUT_NS;
  } else if (op != 10 && c->fin) {
    on_message(c, now);
    c->msg_op = 0;
  }
}

/* Parses server frames. Returns -1 if the connection failed. */
static int parse_frames(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  while (n) {
    if (!c->in_payload) {
      int need = 2;
      if (c->hdrlen >= 2) need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;
      while (c->hdrlen < need && n) {
        c->hdr[c->hdrlen++] = *p++;
        n--;
        if (c->hdrlen == 2) need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;
      }
      if (c->hdrlen < need) return 0;
      uint8_t b0 = c->hdr[0], b1 = c->hdr[1];
      int op = b0 & 0x0f;
      uint64_t len = b1 & 0x7f;
      if (len == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
      else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = len << 8 | c->hdr[i];
      }
      c->hdrlen = 0;
      /* A server frame has no RSV bit (no extension was agreed) and no mask (RFC 6455 §5.1). */
      int bad = (b0 & 0x70) || (b1 & 0x80);
      if (op >= 8) bad |= op > 10 || !(b0 & 0x80) || len > 125;
      else if (op == 0) bad |= !c->msg_op;
      else if (op <= 2) {
        bad |= c->msg_op != 0;
        c->msg_op = op;
        c->msg_off = 0;
        c->msg_bad = 0;
      } else bad = 1;
      if (bad) {
        conn_fail(c, E_PROTOCOL);
        return -1;
      }
      c->opcode = op;
      c->fin = b0 >> 7;
      c->plen = len;
      c->pgot = 0;
      c->in_payload = 1;
      if (len == 0) {
        c->in_payload = 0;
        frame_end(c, now);
        if (c->state == ST_DONE) return -1;
      }
      continue;
    }
    size_t take = c->plen - c->pgot < n ? (size_t)(c->plen - c->pgot) : n;
    on_data(c, p, take, now);
    c->pgot += take;
    p += take;
    n -= take;
    if (c->pgot == c->plen) {
      c->in_payload = 0;
      frame_end(c, now);
      if (c->state == ST_DONE) return -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- HTTP/2 (-2): h2c, prior knowledge
 * RFC 9113 §3.3: with prior knowledge the client opens with the connection preface, the string
 * below followed by a SETTINGS frame; the server's preface is a SETTINGS frame, the first frame it
 * sends (§3.4). RFC 8441 §3: a client must not send an extended CONNECT before it has received
 * SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. The WebSocket is stream 1; its bytes travel in DATA
 * frames (RFC 8441 §5), the client's WebSocket frames masked exactly as over HTTP/1.1 (the same
 * templates). Every frame the server sends is checked as in HTTP/1.1 mode. */

enum { H2_SETTINGS, H2_RESPONSE, H2_OPEN }; /* waiting for the server's SETTINGS, for the response; open */
enum { F_DATA, F_HEADERS, F_PRIORITY, F_RST_STREAM, F_SETTINGS, F_PUSH_PROMISE, F_PING, F_GOAWAY, F_WINDOW_UPDATE,
       F_CONTINUATION };
#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20
#define H2_DEFAULT_WINDOW 65535     /* RFC 9113 §6.9.2, for the connection and SETTINGS_INITIAL_WINDOW_SIZE */
#define H2_DEFAULT_FRAME 16384      /* RFC 9113 §6.5.2 SETTINGS_MAX_FRAME_SIZE; ours stays at it */
#define H2_MAX_WINDOW 0x7fffffffll  /* RFC 9113 §6.9.1 */
#define H2_RECV_WINDOW (64ll << 20) /* what the server may send ahead of us, on stream 1 and in all */
#define H2_HBLOCK_MAX 16384

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* What the HTTP/2 layer did while measuring, for the JSON: frames each way, and how often queued
 * WebSocket bytes waited for the server's WINDOW_UPDATE (a send window at 0). */
static struct {
  uint64_t data_out, data_in, window_updates_out, window_updates_in, stalls, pings;
} h2n;

static void mark_dirty(conn *c) {
  if (!c->dirty) {
    c->dirty = 1;
    dirty[ndirty++] = c;
  }
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 9113 §4.1: length (24), type (8), flags (8), R (1) + stream identifier (31). */
static size_t h2_frame_header(uint8_t *out, size_t len, int type, int flags, uint32_t stream) {
  out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
  out[3] = (uint8_t)type, out[4] = (uint8_t)flags;
  put32(out + 5, stream);
  return 9;
}

/* Queues one complete frame other than DATA (a copy). */
static void h2_control(conn *c, int type, int flags, uint32_t stream, const uint8_t *payload, size_t len) {
  uint8_t *f = malloc(9 + len);
  if (!f) die("out of memory");
  h2_frame_header(f, len, type, flags, stream);
  if (len) memcpy(f + 9, payload, len);
  enqueue(c, f, 9 + len, f);
}

/* RFC 7541 §5.1: an integer with an N-bit prefix; `first` carries the representation's other bits. */
static size_t hpack_int(uint8_t *out, int first, int nbits, size_t v) {
  size_t max = (1u << nbits) - 1, o = 0;
  if (v < max) {
    out[o++] = (uint8_t)(first | (int)v);
    return o;
  }
  out[o++] = (uint8_t)(first | (int)max);
  for (v -= max; v >= 128; v /= 128) out[o++] = (uint8_t)(v % 128 + 128);
  out[o++] = (uint8_t)v;
  return o;
}
/* RFC 7541 §5.2: a string literal, H = 0 (no Huffman coding). */
static size_t hpack_str(uint8_t *out, const char *s) {
  size_t n = strlen(s), o = hpack_int(out, 0x00, 7, n);
  memcpy(out + o, s, n);
  return o + n;
}
/* RFC 7541 §6.2.2: a literal header field without indexing, new name (first octet 0000 0000). */
static size_t hpack_literal(uint8_t *out, const char *name, const char *value) {
  out[0] = 0x00;
  size_t o = 1 + hpack_str(out + 1, name);
  return o + hpack_str(out + o, value);
}

/* Connected: the preface, our SETTINGS and a connection WINDOW_UPDATE, in one write. */
static void h2_start(conn *c) {
  c->fbuf = malloc(H2_DEFAULT_FRAME);
  c->hblock = malloc(H2_HBLOCK_MAX);
  uint8_t *p = malloc(64), *o = p;
  if (!c->fbuf || !c->hblock || !p) die("out of memory");
  c->send_conn = c->send_stream = c->peer_initial_window = H2_DEFAULT_WINDOW;
  c->max_frame = H2_DEFAULT_FRAME;
  c->recv_conn = c->recv_stream = H2_RECV_WINDOW;
  memcpy(o, H2_PREFACE, 24);
  o += 24;
  /* RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH (0x2) = 0, SETTINGS_INITIAL_WINDOW_SIZE (0x4): large, so
   * that the server's echoes never wait for us (stream 1 opens after these settings). */
  o += h2_frame_header(o, 12, F_SETTINGS, 0, 0);
  o[0] = 0, o[1] = 0x2, put32(o + 2, 0);
  o[6] = 0, o[7] = 0x4, put32(o + 8, (uint32_t)H2_RECV_WINDOW);
  o += 12;
  /* RFC 9113 §6.9.2: the connection window starts at 65,535 whatever the settings say: raise it. */
  o += h2_frame_header(o, 4, F_WINDOW_UPDATE, 0, 0);
  put32(o, (uint32_t)(H2_RECV_WINDOW - H2_DEFAULT_WINDOW));
  o += 4;
  enqueue(c, p, (size_t)(o - p), p);
  c->state = ST_HANDSHAKE;
  c->h2st = H2_SETTINGS;
}

/* RFC 8441 §4: the extended CONNECT on stream 1, HEADERS with END_HEADERS and without END_STREAM
 * (the stream stays open both ways), every field a literal without indexing. */
static void h2_request(conn *c) {
  char host[INET_ADDRSTRLEN], authority[32];
  inet_ntop(AF_INET, &cfg.host, host, sizeof host);
  snprintf(authority, sizeof authority, "%s:%d", host, cfg.port);
  uint8_t *f = malloc(9 + 256 + strlen(cfg.path)), *b = f + 9;
  if (!f) die("out of memory");
  size_t n = hpack_literal(b, ":method", "CONNECT");
  n += hpack_literal(b + n, ":protocol", "websocket");
  n += hpack_literal(b + n, ":scheme", "http");
  n += hpack_literal(b + n, ":path", cfg.path);
  n += hpack_literal(b + n, ":authority", authority);
  n += hpack_literal(b + n, "sec-websocket-version", "13");
  h2_frame_header(f, n, F_HEADERS, FL_END_HEADERS, 1);
  enqueue(c, f, 9 + n, f);
  c->h2st = H2_RESPONSE;
}

/* RFC 7541 §5.1, decoding; -1 when the block ends first or the value is absurd. */
static int hpack_read_int(const uint8_t *b, size_t len, size_t *pos, int nbits, uint64_t *v) {
  uint64_t max = (1u << nbits) - 1;
  if (*pos >= len) return -1;
  *v = b[(*pos)++] & max;
  if (*v < max) return 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (*pos >= len) return -1;
    uint8_t x = b[(*pos)++];
    *v += (uint64_t)(x & 127) << shift;
    if (!(x & 128)) return 0;
  }
  return -1;
}

/* "sec-websocket-accept" in the Huffman code of RFC 7541 Appendix B (s 01000, e 00101, c 00100,
 * - 010110, w 1111000, ...): 14 octets, shorter than the 20 plain ones, so nghttp2 sends it so. */
static const uint8_t ACCEPT_HUFFMAN[14] = {0x41, 0x48, 0xb7, 0x82, 0xc6, 0x83, 0x93,
                                           0xa9, 0x52, 0xb0, 0xc8, 0x42, 0xd6, 0x9f};

/* Skips a string literal (RFC 7541 §5.2); 1 if it is the name sec-websocket-accept, -1 if malformed. */
static int hpack_string(const uint8_t *b, size_t len, size_t *pos) {
  if (*pos >= len) return -1;
  int huffman = b[*pos] & 0x80;
  uint64_t n;
  if (hpack_read_int(b, len, pos, 7, &n) < 0 || n > len - *pos) return -1;
  const uint8_t *s = b + *pos;
  *pos += (size_t)n;
  return huffman ? n == sizeof ACCEPT_HUFFMAN && !memcmp(s, ACCEPT_HUFFMAN, sizeof ACCEPT_HUFFMAN)
                 : n == 20 && !memcmp(s, "sec-websocket-accept", 20);
}

/* The response's header block: 1 if it is `:status 200` without sec-websocket-accept (RFC 8441
 * §5: the extended CONNECT replaces the HTTP/1.1 key and accept, so a 2xx carries none). */
static int h2_check_response(const uint8_t *b, size_t len) {
  /* RFC 7541 §6.1: an indexed field, static index 8 (Appendix A) is `:status 200`. The status
   * comes first (pseudo-header fields precede the others, RFC 9113 §8.3), and nghttp2, which
   * Node's http2 is built on, always encodes `:status 200` as this one octet. */
  if (len == 0 || b[0] != 0x88) return 0;
  /* The dynamic table is empty before this block (the first the server sends on the session):
   * only entries the block itself adds can be referred to. */
  uint64_t ndyn = 0, idx;
  size_t pos = 1;
  while (pos < len) {
    uint8_t x = b[pos];
    if (x & 0x80) { /* §6.1 indexed field */
      if (hpack_read_int(b, len, &pos, 7, &idx) < 0 || idx == 0 || idx == 8 || idx > 61 + ndyn) return 0;
      continue;
    }
    if ((x & 0xe0) == 0x20) { /* §6.3 dynamic table size update */
      if (hpack_read_int(b, len, &pos, 5, &idx) < 0) return 0;
      continue;
    }
    int incremental = (x & 0xc0) == 0x40; /* §6.2.1; else §6.2.2 or §6.2.3, with a 4-bit prefix */
    if (hpack_read_int(b, len, &pos, incremental ? 6 : 4, &idx) < 0 || idx > 61 + ndyn) return 0;
    /* no name of the static table is sec-websocket-accept, nor any this block added (refused here) */
    if (idx == 0 && hpack_string(b, len, &pos) != 0) return 0;
    if (hpack_string(b, len, &pos) < 0) return 0; /* the value */
    ndyn += (uint64_t)incremental;
  }
  return 1;
}

/* Counts a DATA frame against our receive windows, and reopens them once half is used (RFC 9113
 * §6.9): the server never waits for us. -1 if the server overran a window. */
static int h2_received(conn *c, uint32_t n, int stream_ends) {
  c->recv_conn -= n;
  c->recv_stream -= n;
  if (c->recv_conn < 0 || c->recv_stream < 0) return -1; /* §6.9.1: FLOW_CONTROL_ERROR */
  uint8_t inc[4];
  if (c->recv_conn <= H2_RECV_WINDOW / 2) {
    put32(inc, (uint32_t)(H2_RECV_WINDOW - c->recv_conn));
    h2_control(c, F_WINDOW_UPDATE, 0, 0, inc, 4);
    c->recv_conn = H2_RECV_WINDOW;
    h2n.window_updates_out += (uint64_t)measuring;
  }
  if (c->recv_stream <= H2_RECV_WINDOW / 2 && !stream_ends) {
    put32(inc, (uint32_t)(H2_RECV_WINDOW - c->recv_stream));
    h2_control(c, F_WINDOW_UPDATE, 0, 1, inc, 4);
    c->recv_stream = H2_RECV_WINDOW;
    h2n.window_updates_out += (uint64_t)measuring;
  }
  return 0;
}

/* Frames queued WebSocket bytes as DATA on stream 1: at most SETTINGS_MAX_FRAME_SIZE each (RFC 9113
 * §4.2), within both the connection's and the stream's send window (§6.9.1); what does not fit
 * waits for a WINDOW_UPDATE. A DATA frame carries whatever is queued, as one writev carries it in
 * HTTP/1.1 mode: several small WebSocket frames, or a slice of a large one. The payloads are
 * referenced, not copied. */
static void h2_pump(conn *c) {
  if (c->h2st != H2_OPEN) return;
  while (c->sqn) {
    int64_t room = c->send_conn < c->send_stream ? c->send_conn : c->send_stream;
    if (room <= 0) {
      h2n.stalls += (uint64_t)measuring;
      break;
    }
    size_t most = (size_t)room < c->max_frame ? (size_t)room : c->max_frame, len = 0;
    uint8_t *h = malloc(9);
    if (!h) die("out of memory");
    enqueue(c, h, 9, h); /* its header, written below once the length is known */
    while (c->sqn && len < most) {
      outent *e = &c->sq[c->sqhead];
      size_t rem = e->len - c->sqoff, take = rem < most - len ? rem : most - len;
      enqueue(c, e->p + c->sqoff, take, take == rem ? e->owned : NULL);
      len += take;
      if (take == rem) {
        c->sqhead = (c->sqhead + 1) % c->sqcap;
        c->sqn--;
        c->sqoff = 0;
      } else c->sqoff += take;
    }
    int end = !c->sqn && c->end_wanted;
    c->end_sent |= end;
    h2_frame_header(h, len, F_DATA, end ? FL_END_STREAM : 0, 1);
    c->send_conn -= (int64_t)len;
    c->send_stream -= (int64_t)len;
    h2n.data_out += (uint64_t)measuring;
  }
  /* an empty DATA frame with END_STREAM uses no window (only payload counts, §6.9.1) */
  if (!c->sqn && c->end_wanted && !c->end_sent) {
    c->end_sent = 1;
    h2_control(c, F_DATA, FL_END_STREAM, 1, NULL, 0);
  }
}

/* A frame's header has been read. -1 if the connection failed. */
static int h2_frame_begin(conn *c) {
  c->flen = (uint32_t)c->fh[0] << 16 | (uint32_t)c->fh[1] << 8 | c->fh[2];
  c->ftype = c->fh[3];
  c->fflags = c->fh[4];
  c->fstream = get32(c->fh + 5) & 0x7fffffff; /* the reserved bit is ignored (§4.1) */
  c->fgot = 0;
  c->fpad = 0;
  c->fpadded = 0;
  int kind = -1;
  if (c->flen > H2_DEFAULT_FRAME) kind = E_PROTOCOL; /* §4.2: FRAME_SIZE_ERROR, beyond our SETTINGS_MAX_FRAME_SIZE */
  else if (c->h2st == H2_SETTINGS && c->ftype != F_SETTINGS) kind = E_HANDSHAKE; /* §3.4: SETTINGS first */
  else if (c->hopen && c->ftype != F_CONTINUATION) kind = E_PROTOCOL; /* §6.10: nothing inside a header block */
  else if (c->ftype == F_DATA) {
    /* §6.1: DATA only on the open stream 1; §5.1: nothing after the server's END_STREAM */
    if (c->fstream != 1 || c->h2st != H2_OPEN) kind = E_PROTOCOL;
    else if (c->fflags & FL_PADDED && c->flen == 0) kind = E_PROTOCOL;
    else if (h2_received(c, c->flen, c->fflags & FL_END_STREAM) < 0) kind = E_PROTOCOL;
    h2n.data_in += (uint64_t)measuring;
    c->fpadded = c->fflags & FL_PADDED;
  }
  if (kind < 0) return 0;
  conn_fail(c, kind);
  return -1;
}

/* Part of a DATA frame's payload, starting at c->fgot: the pad length, WebSocket bytes, padding. */
static int h2_data(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  uint32_t at = c->fgot;
  if (c->fpadded && at == 0) {
    c->fpad = p[0];
    if (c->fpad >= c->flen) { /* §6.1: padding as long as the payload or longer is a PROTOCOL_ERROR */
      conn_fail(c, E_PROTOCOL);
      return -1;
    }
    p++, n--, at++;
  }
  uint32_t end = c->flen - c->fpad;
  if (at >= end || n == 0) return 0;
  return parse_frames(c, p, end - at < n ? end - at : n, now);
}

/* The header block is complete: the response to the extended CONNECT. */
static void h2_response(conn *c, uint64_t now) {
  if (!h2_check_response(c->hblock, c->hblen)) {
    conn_fail(c, E_HANDSHAKE);
    return;
  }
  c->hblen = 0;
  c->h2st = H2_OPEN;
  n_pending--;
  n_open++;
  c->state = ST_OPEN;
  c->deadline = 0;
  on_open(c, now);
}

/* Adds a HEADERS or CONTINUATION fragment to the header block. */
static void h2_fragment(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  if (c->hblen + n > H2_HBLOCK_MAX) {
    conn_fail(c, E_HANDSHAKE);
    return;
  }
  memcpy(c->hblock + c->hblen, p, n);
  c->hblen += n;
  c->hopen = !(c->fflags & FL_END_HEADERS);
  if (!c->hopen) h2_response(c, now);
}

/* A whole frame other than DATA is in c->fbuf; or a DATA frame has ended. */
static void h2_frame_end(conn *c, uint64_t now) {
  const uint8_t *p = c->fbuf;
  uint32_t n = c->flen, stream = c->fstream;
  int handshake = c->h2st != H2_OPEN, flags = c->fflags;
  switch (c->ftype) {
  case F_DATA:
    if (!(flags & FL_END_STREAM)) return;
    /* the server ended stream 1: clean after both close frames, as EOF is over HTTP/1.1 */
    if (c->close_sent && c->close_rcvd) {
      closed_clean++;
      conn_release(c);
    } else conn_fail(c, E_RESET);
    return;
  case F_SETTINGS: {
    /* §6.5: on stream 0, a multiple of 6 octets, an ACK empty */
    if (stream != 0 || (flags & FL_ACK ? n != 0 : n % 6 != 0)) break;
    if (flags & FL_ACK) return;
    for (uint32_t i = 0; i < n; i += 6) {
      uint32_t id = (uint32_t)p[i] << 8 | p[i + 1], v = get32(p + i + 2);
      if (id == 0x2 && v != 0) goto protocol; /* ENABLE_PUSH: a server's can only be 0 */
      if (id == 0x3 && v == 0 && handshake) goto refused; /* MAX_CONCURRENT_STREAMS: none for us */
      if (id == 0x4) { /* INITIAL_WINDOW_SIZE: moves stream 1's send window by the change (§6.9.2) */
        if (v > H2_MAX_WINDOW) goto protocol;
        c->send_stream += (int64_t)v - (int64_t)c->peer_initial_window;
        c->peer_initial_window = v;
        if (c->send_stream > H2_MAX_WINDOW) goto protocol;
      }
      if (id == 0x5) { /* MAX_FRAME_SIZE */
        if (v < H2_DEFAULT_FRAME || v > 0xffffff) goto protocol;
        c->max_frame = v;
      }
      if (id == 0x8) { /* RFC 8441 §3: ENABLE_CONNECT_PROTOCOL, 0 or 1, never back to 0 once 1 */
        if (v > 1 || (v == 0 && c->connect_protocol)) goto protocol;
        c->connect_protocol = (int)v;
      }
      /* any other setting: ignored (§6.5.2) */
    }
    h2_control(c, F_SETTINGS, FL_ACK, 0, NULL, 0); /* §6.5.3 */
    if (c->h2st == H2_SETTINGS) {
      if (!c->connect_protocol) goto refused; /* RFC 8441 §3: no extended CONNECT without it */
      h2_request(c);
    }
    if (c->sqn) mark_dirty(c);
    return;
  }
  case F_PING: /* §6.7: answered with the same 8 octets and ACK */
    if (stream != 0 || n != 8) break;
    if (!(flags & FL_ACK)) h2_control(c, F_PING, FL_ACK, 0, p, 8);
    h2n.pings += (uint64_t)measuring;
    return;
  case F_WINDOW_UPDATE: { /* §6.9 */
    if (n != 4 || stream > 1) break;
    uint32_t inc = get32(p) & 0x7fffffff;
    int64_t *w = stream == 0 ? &c->send_conn : &c->send_stream;
    if (inc == 0) break;
    *w += inc;
    if (*w > H2_MAX_WINDOW) break; /* §6.9.1: FLOW_CONTROL_ERROR */
    h2n.window_updates_in += (uint64_t)measuring;
    if (c->sqn) mark_dirty(c);
    return;
  }
  case F_HEADERS: {
    if (stream != 1 || c->h2st != H2_RESPONSE) break; /* no trailers, no other stream */
    if (flags & FL_END_STREAM) goto refused;          /* a response that ends the stream: no WebSocket */
    uint32_t skip = 0, pad = 0;
    if (flags & FL_PADDED) {
      if (n < 1) break;
      pad = p[0], skip = 1;
    }
    if (flags & FL_PRIORITY) skip += 5; /* §6.2: stream dependency and weight */
    if (skip + pad > n) break;
    h2_fragment(c, p + skip, n - skip - pad, now);
    return;
  }
  case F_CONTINUATION: /* §6.10: only after a HEADERS without END_HEADERS, on its stream */
    if (!c->hopen || stream != 1) break;
    h2_fragment(c, p, n, now);
    return;
  case F_RST_STREAM: /* the server refused or ended the WebSocket's stream, or the whole session */
  case F_GOAWAY:
    conn_fail(c, handshake ? E_HANDSHAKE : E_RESET);
    return;
  case F_PUSH_PROMISE: /* §8.4: push was disabled by SETTINGS_ENABLE_PUSH = 0 */
    break;
  default: /* PRIORITY (§6.3, deprecated) and unknown types (§5.5) are ignored */
    return;
  }
protocol:
  conn_fail(c, E_PROTOCOL);
  return;
refused:
  conn_fail(c, E_HANDSHAKE);
}

/* Bytes from an HTTP/2 connection: frames, whatever the state. */
static void h2_bytes(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  while (n) {
    if (c->fhlen < 9) {
      size_t take = (size_t)(9 - c->fhlen) < n ? (size_t)(9 - c->fhlen) : n;
      memcpy(c->fh + c->fhlen, p, take);
      c->fhlen += (int)take;
      p += take, n -= take;
      if (c->fhlen < 9) return;
      if (h2_frame_begin(c) < 0) return;
      if (c->flen) continue;
    } else {
      size_t take = c->flen - c->fgot < n ? c->flen - c->fgot : n;
      if (c->ftype == F_DATA) {
        if (h2_data(c, p, take, now) < 0) return;
      } else memcpy(c->fbuf + c->fgot, p, take);
      c->fgot += (uint32_t)take;
      p += take, n -= take;
      if (c->fgot < c->flen) continue;
    }
    c->fhlen = 0;
    h2_frame_end(c, now);
    if (c->state == ST_DONE) return;
  }
}

static void on_bytes(conn *c, const uint8_t *p, size_t n, uint64_t now) {
  if (cfg.h2) {
    h2_bytes(c, p, n, now);
    return;
  }
  if (c->state == ST_HANDSHAKE) {
    if (!c->hs && !(c->hs = malloc(HS_MAX + 1))) die("out of memory");
    int before = c->hslen;
    size_t take = n < (size_t)(HS_MAX - c->hslen) ? n : (size_t)(HS_MAX - c->hslen);
    memcpy(c->hs + c->hslen, p, take);
    c->hslen += (int)take;
    int h = check_response(c);
    if (h == 0) return;
    if (h < 0) {
      conn_fail(c, E_HANDSHAKE);
      return;
    }
    /* bytes after the response are frames: they are the tail of p */
    const uint8_t *tail = p + (h - before);
    size_t rest = n - (size_t)(h - before);
    free(c->hs);
    c->hs = NULL;
    n_pending--;
    n_open++;
    c->state = ST_OPEN;
    c->deadline = 0;
    on_open(c, now);
    if (c->state == ST_DONE || !rest) return;
    parse_frames(c, tail, rest, now);
    return;
  }
  parse_frames(c, p, n, now);
}

static void on_readable(conn *c, uint64_t now) {
  for (;;) {
    ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
    if (n > 0) {
      on_bytes(c, rbuf, (size_t)n, now);
      if (c->state == ST_DONE || (size_t)n < sizeof rbuf) return;
      continue;
    }
    if (n == 0) { /* EOF: clean only after both close frames */
      if (c->close_sent && c->close_rcvd) {
        closed_clean++;
        conn_release(c);
      } else conn_fail(c, E_RESET);
      return;
    }
    if (errno == EAGAIN || errno == EINTR) return;
    conn_fail(c, E_RESET);
    return;
  }
}

static void on_event(conn *c, uint32_t ev, uint64_t now) {
  if (c->state == ST_DONE || c->state == ST_FREE) return;
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
      conn_fail(c, E_CONNECT);
      return;
    }
    if (cfg.h2) h2_start(c);
    else handshake_request(c);
    return;
  }
  if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
  if (c->state != ST_DONE && (ev & EPOLLOUT)) flush(c);
}

/* ---------------------------------------------------------------- modes */

static void on_open(conn *c, uint64_t now) {
  opened++;
  if (cfg.mode == M_CONNECT) {
    if (measuring) {
      count++;
      h_add(now - c->started);
      last_counted_at = now;
    }
    send_close(c, now);
  } else if (cfg.mode == M_ECHO && phase != P_SETUP) {
    conn_fail(c, E_CONNECT); /* not expected */
  }
}

static void on_message(conn *c, uint64_t now) {
  int want_op = cfg.text ? 1 : 2;
  int ok = !c->msg_bad && c->msg_op == want_op && c->msg_off == cfg.size;
  last_progress = now;
  if (cfg.mode == M_BCAST) {
    slot_t *sl = &slots[c->next_seq % (uint64_t)cfg.window];
    if (!sl->used || sl->seq != c->next_seq) {
      conn_fail(c, E_PAYLOAD);
      return;
    }
    c->next_seq++;
    if (ok) {
      if (measuring) {
        count++;
        bytes_verified += cfg.size;
        h_add(now - sl->sent_at);
      }
    } else errs[E_PAYLOAD]++;
    if (--sl->remaining == 0) {
      sl->used = 0;
      b_in_flight--;
      bcast_pump(now);
    }
    return;
  }
  if (!c->fl_n) {
    conn_fail(c, E_PROTOCOL); /* an echo nobody asked for */
    return;
  }
  uint64_t at = c->fl_at[c->fl_head];
  c->fl_head = (c->fl_head + 1) % cfg.window;
  c->fl_n--;
  if (!ok) errs[E_PAYLOAD]++;
  if (cfg.mode == M_IDLE) {
    alive_verified += (uint64_t)ok;
    return;
  }
  if (ok && measuring) {
    count++;
    bytes_verified += cfg.size;
    h_add(now - at);
  }
  if (phase == P_WARM || phase == P_MEASURE) echo_send(c, now);
}

/* ---------------------------------------------------------------- CPU and memory readings */

typedef struct {
  uint64_t t, self_us, server_ticks, busy[2], total[2];
} snap_t;

static long read_proc_field_kb(int pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  size_t fl = strlen(field);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, fl) && line[fl] == ':') {
      v = strtol(line + fl + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}
static uint64_t server_ticks(void) {
  if (cfg.pid <= 0) return 0;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", cfg.pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  /* after ")": field 3 (state) ... field 14 utime, field 15 stime */
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return 0;
  return ut + st;
}
static void core_times(uint64_t busy[2], uint64_t total[2]) {
  busy[0] = busy[1] = total[0] = total[1] = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    int cpu;
    unsigned long long v[8] = {0};
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 9 &&
        cpu >= 0 && cpu < 2) {
      uint64_t tot = 0;
      for (int i = 0; i < 8; i++) tot += v[i];
      total[cpu] = tot;
      busy[cpu] = tot - v[3] - v[4];
    }
  }
  fclose(f);
}
static snap_t snap(void) {
  snap_t s;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s.t = now_ns();
  s.self_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
              (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
  s.server_ticks = server_ticks();
  core_times(s.busy, s.total);
  return s;
}

/* ---------------------------------------------------------------- main loop */

static void watchdog(int sig) {
  (void)sig;
  static const char msg[] = "{\"tool\":\"loadgen\",\"error\":\"watchdog: the run exceeded its time limit\"}\n";
  ssize_t r = write(1, msg, sizeof msg - 1);
  (void)r;
  _exit(3);
}

static double parse_num(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s) die("bad number");
  if (*end == 'k' || *end == 'K') v *= 1024;
  else if (*end == 'm' || *end == 'M') v *= 1024 * 1024;
  return v;
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen -m echo|broadcast|connect|idle -p PORT [-H 127.0.0.1] [-u /] [-c conns] [-w window]\n"
                  "  [-s size] [-t binary|text] [-d secs] [-W warmup] [-n handshakes] [-C concurrent] [-a addrs]\n"
                  "  [-x server_pid] [-T setup_timeout] [-e settle] [-l label] [-2 (HTTP/2 cleartext, echo)]\n");
  exit(2);
}

int main(int argc, char **argv) {
  inet_pton(AF_INET, "127.0.0.1", &cfg.host);
  int opt;
  while ((opt = getopt(argc, argv, "m:p:H:u:c:w:s:t:d:W:n:C:a:x:T:e:l:2h")) != -1) {
    switch (opt) {
    case 'm':
      cfg.mode = !strcmp(optarg, "echo") ? M_ECHO : !strcmp(optarg, "broadcast") ? M_BCAST
               : !strcmp(optarg, "connect") ? M_CONNECT : !strcmp(optarg, "idle") ? M_IDLE : -2;
      break;
    case 'p': cfg.port = atoi(optarg); break;
    case 'H':
      if (inet_pton(AF_INET, optarg, &cfg.host) != 1) die("-H: not an IPv4 address");
      break;
    case 'u': cfg.path = optarg; break;
    case 'c': cfg.conns = (int)parse_num(optarg); break;
    case 'w': cfg.window = (int)parse_num(optarg); break;
    case 's': cfg.size = (size_t)parse_num(optarg); break;
    case 't':
      if (strcmp(optarg, "text") && strcmp(optarg, "binary")) die("-t: binary or text");
      cfg.text = !strcmp(optarg, "text");
      break;
    case 'd': cfg.dur = parse_num(optarg); break;
    case 'W': cfg.warm = parse_num(optarg); break;
    case 'n': cfg.max_handshakes = (long)parse_num(optarg); break;
    case 'C': cfg.concurrent = (int)parse_num(optarg); break;
    case 'a': cfg.addrs = (int)parse_num(optarg); break;
    case 'x': cfg.pid = atoi(optarg); break;
    case 'T': cfg.setup_timeout = parse_num(optarg); break;
    case 'e': cfg.settle = parse_num(optarg); break;
    case 'l': cfg.label = optarg; break;
    case '2': cfg.h2 = 1; break;
    default: usage();
    }
  }
  if (cfg.mode < 0 || cfg.port <= 0 || cfg.port > 65535) usage();
  if ((ntohl(cfg.host.s_addr) >> 24) != 127) die("only loopback (127.0.0.0/8) targets are allowed");
  if (cfg.conns < 1 || cfg.conns > 200000) die("-c: 1..200000");
  if (cfg.window < 1 || cfg.window > 4096) die("-w: 1..4096");
  if (cfg.size > MAX_SIZE) die("-s: at most 16m");
  if (cfg.dur <= 0 || cfg.dur > 600) die("-d: (0, 600]");
  if (cfg.warm < 0 || cfg.warm > 60) die("-W: [0, 60]");
  if (cfg.setup_timeout <= 0 || cfg.setup_timeout > 120) die("-T: (0, 120]");
  if (cfg.settle < 0 || cfg.settle > 60) die("-e: [0, 60]");
  if (cfg.concurrent < 1) cfg.concurrent = 1;
  if (cfg.addrs < 1 || cfg.addrs > 254) die("-a: 1..254");
  if (cfg.mode == M_IDLE && cfg.pid <= 0) die("idle mode needs -x SERVER_PID");
  if (cfg.mode == M_BCAST && cfg.size < 17) die("broadcast: -s at least 17");
  if (cfg.h2 && cfg.mode != M_ECHO) die("-2: echo mode only");
  if (strlen(cfg.path) > 1024) die("-u: at most 1024 characters");
  if (cfg.mode == M_IDLE) cfg.window = 1;
  if (cfg.mode == M_CONNECT) cfg.conns = cfg.concurrent;

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)cfg.conns + 64 > rl.rlim_cur) die("not enough file descriptors for -c (RLIMIT_NOFILE)");
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, watchdog);
  alarm((unsigned)(cfg.setup_timeout + cfg.warm + cfg.dur + cfg.settle + 40));
  if (getrandom(&rng_state, sizeof rng_state, 0) != sizeof rng_state) rng_state = now_ns() ^ (uint64_t)getpid();
  rng_state |= 1;

  make_templates();
  if (cfg.mode == M_BCAST) {
    slots = calloc((size_t)cfg.window, sizeof *slots);
    if (!slots) die("out of memory");
    for (int i = 0; i < cfg.window; i++) {
      slots[i].plain = malloc(cfg.size);
      slots[i].frame = malloc(cfg.size + 14);
      if (!slots[i].plain || !slots[i].frame) die("out of memory");
    }
  }
  nconns = cfg.conns;
  conns = calloc((size_t)nconns, sizeof *conns);
  dirty = calloc((size_t)nconns, sizeof *dirty);
  if (!conns || !dirty) die("out of memory");
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = -1;
    if (cfg.mode != M_CONNECT) {
      conns[i].fl_tpl = calloc((size_t)cfg.window, sizeof(int));
      conns[i].fl_at = calloc((size_t)cfg.window, sizeof(uint64_t));
      if (!conns[i].fl_tpl || !conns[i].fl_at) die("out of memory");
    }
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");

  long rss_before = cfg.pid > 0 ? read_proc_field_kb(cfg.pid, "VmRSS") : -1, rss_after = -1;
  uint64_t t0 = now_ns(), phase_end = t0 + (uint64_t)(cfg.setup_timeout * NS), next_scan = t0;
  uint64_t setup_done_at = 0, measure_start_t = 0;
  int next_id = 0, aborted = 0;
  snap_t s0 = {0}, s1 = {0};
  struct epoll_event evs[512];
  if (cfg.mode == M_CONNECT) {
    phase = cfg.warm > 0 ? P_WARM : P_MEASURE;
    phase_end = t0 + (uint64_t)(cfg.warm * NS);
    if (phase == P_MEASURE) {
      measuring = 1;
      s0 = snap();
      measure_start_t = s0.t;
      phase_end = t0 + (uint64_t)(cfg.dur * NS);
    }
  }

  while (phase != P_END) {
    /* write what the last round queued, one writev per connection */
    for (int i = 0; i < ndirty; i++) {
      if (cfg.h2 && dirty[i]->state != ST_DONE) h2_pump(dirty[i]); /* before the flag clears: it may enqueue */
      dirty[i]->dirty = 0;
      if (dirty[i]->state != ST_DONE && dirty[i]->state != ST_CONNECTING) flush(dirty[i]);
    }
    ndirty = 0;
    uint64_t now = now_ns();
    /* open connections: setup (echo, broadcast, idle) or keep K attempts going (connect) */
    if (phase == P_SETUP) {
      while (next_id < nconns && n_pending < (uint64_t)cfg.concurrent) {
        conn_start(&conns[next_id], next_id, now);
        next_id++;
      }
    } else if (cfg.mode == M_CONNECT && (phase == P_WARM || phase == P_MEASURE)) {
      for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_FREE || conns[i].state == ST_DONE) conn_start(&conns[i], next_id++, now);
    }

    now = now_ns();
    /* phase changes */
    if (phase == P_SETUP && next_id == nconns && n_pending == 0) {
      setup_done_at = now;
      if (n_open == 0) {
        aborted = 1;
        phase = P_END;
        break;
      }
      if (cfg.mode == M_IDLE) {
        phase = P_SETTLE;
        phase_end = now + (uint64_t)(cfg.settle * NS);
      } else {
        phase = P_WARM;
        phase_end = now + (uint64_t)(cfg.warm * NS);
        last_progress = now;
        if (cfg.mode == M_ECHO)
          for (int i = 0; i < nconns; i++)
            if (conns[i].state == ST_OPEN)
              for (int k = 0; k < cfg.window; k++) echo_send(&conns[i], now);
        if (cfg.mode == M_BCAST) bcast_pump(now);
      }
      continue;
    }
    if (phase == P_SETUP && now >= phase_end) {
      for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_CONNECTING || conns[i].state == ST_HANDSHAKE) conn_fail(&conns[i], E_TIMEOUT);
      errs[E_TIMEOUT] += (uint64_t)(nconns - next_id);
      next_id = nconns;
      continue;
    }
    if ((phase == P_WARM || phase == P_MEASURE) && cfg.mode != M_CONNECT && now - last_progress > STALL_NS) {
      errs[E_TIMEOUT]++;
      aborted = 1;
      if (phase == P_MEASURE) s1 = snap();
      phase = P_DRAIN;
      measuring = 0;
      phase_end = now;
    }
    if (phase == P_WARM && now >= phase_end) {
      phase = P_MEASURE;
      measuring = 1;
      s0 = snap();
      measure_start_t = s0.t;
      phase_end = now + (uint64_t)(cfg.dur * NS);
    } else if (phase == P_MEASURE &&
               (now >= phase_end || (cfg.mode == M_CONNECT && count >= (uint64_t)cfg.max_handshakes))) {
      s1 = snap();
      if (cfg.mode == M_CONNECT && count >= (uint64_t)cfg.max_handshakes) s1.t = last_counted_at;
      measuring = 0;
      phase = P_DRAIN;
      phase_end = now + (cfg.mode == M_CONNECT ? CLOSE_TIMEOUT_NS : 2 * NS);
    } else if (phase == P_SETTLE && now >= phase_end) {
      rss_after = read_proc_field_kb(cfg.pid, "VmRSS");
      phase = P_HOLD;
      phase_end = now + (uint64_t)(cfg.dur * NS);
    } else if (phase == P_HOLD && now >= phase_end) {
      phase = P_CHECK;
      phase_end = now + 10 * NS;
      s0 = snap();
      for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_OPEN) echo_send(&conns[i], now);
    } else if (phase == P_CHECK) {
      int waiting = 0;
      for (int i = 0; i < nconns && !waiting; i++) waiting = conns[i].state == ST_OPEN && conns[i].fl_n;
      if (!waiting || now >= phase_end) {
        for (int i = 0; i < nconns; i++)
          if (conns[i].state == ST_OPEN && conns[i].fl_n) conn_fail(&conns[i], E_TIMEOUT);
        s1 = snap();
        phase = P_CLOSE;
        phase_end = now + CLOSE_TIMEOUT_NS;
        for (int i = 0; i < nconns; i++)
          if (conns[i].state == ST_OPEN) send_close(&conns[i], now);
        continue;
      }
    } else if (phase == P_DRAIN) {
      int waiting = 0;
      if (cfg.mode == M_ECHO)
        for (int i = 0; i < nconns && !waiting; i++) waiting = conns[i].state == ST_OPEN && conns[i].fl_n;
      else if (cfg.mode == M_BCAST) waiting = b_in_flight > 0;
      else waiting = n_open + n_pending > 0;
      if (!waiting || now >= phase_end) {
        if (cfg.mode == M_ECHO)
          for (int i = 0; i < nconns; i++)
            if (conns[i].state == ST_OPEN && conns[i].fl_n) conn_fail(&conns[i], E_TIMEOUT);
        if (cfg.mode == M_BCAST && b_in_flight > 0) errs[E_TIMEOUT]++;
        if (cfg.mode == M_CONNECT)
          for (int i = 0; i < nconns; i++)
            if (conns[i].state != ST_DONE && conns[i].state != ST_FREE) conn_fail(&conns[i], E_TIMEOUT);
        phase = P_CLOSE;
        phase_end = now + CLOSE_TIMEOUT_NS;
        for (int i = 0; i < nconns; i++)
          if (conns[i].state == ST_OPEN) send_close(&conns[i], now);
        continue;
      }
    } else if (phase == P_CLOSE) {
      if (n_open + n_pending == 0) phase = P_END;
      else if (now >= phase_end) {
        for (int i = 0; i < nconns; i++)
          if (conns[i].state != ST_DONE && conns[i].state != ST_FREE) conn_fail(&conns[i], E_CLOSE);
        phase = P_END;
      }
      if (phase == P_END) break;
    }
    /* per-connection deadlines, ten times a second */
    if (now >= next_scan) {
      next_scan = now + NS / 10;
      for (int i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        if (c->deadline && now >= c->deadline && c->state != ST_DONE && c->state != ST_FREE)
          conn_fail(c, c->state == ST_CLOSING ? E_CLOSE : E_TIMEOUT);
      }
    }

    uint64_t wait_ns = phase_end > now ? phase_end - now : 0;
    if (wait_ns > NS / 10) wait_ns = NS / 10;
    int n = epoll_wait(epfd, evs, 512, (int)((wait_ns + 999999) / 1000000));
    if (n < 0 && errno != EINTR) die("epoll_wait");
    now = now_ns();
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events, now);
  }

  /* ------------------------------------------------------------ report */
  if (!s1.t) s1 = snap();
  if (!s0.t) s0 = s1;
  double secs = s1.t > s0.t ? (double)(s1.t - s0.t) / 1e9 : 0;
  if (cfg.mode == M_CONNECT && measure_start_t && s1.t > measure_start_t)
    secs = (double)(s1.t - measure_start_t) / 1e9;
  double rate = secs > 0 ? (double)count / secs : 0;
  double client_cpu = secs > 0 ? (double)(s1.self_us - s0.self_us) / 1e6 / secs * 100 : 0;
  double server_cpu =
      secs > 0 && cfg.pid > 0 ? (double)(s1.server_ticks - s0.server_ticks) / (double)sysconf(_SC_CLK_TCK) / secs * 100 : 0;
  double core[2];
  for (int i = 0; i < 2; i++) {
    uint64_t tot = s1.total[i] - s0.total[i];
    core[i] = tot ? (double)(s1.busy[i] - s0.busy[i]) / (double)tot * 100 : 0;
  }
  uint64_t nerr = 0;
  for (int i = 0; i < E_KINDS; i++) nerr += errs[i];
  static const char *const MODES[] = {"echo", "broadcast", "connect", "idle"};
  const char *unit = cfg.mode == M_BCAST ? "deliveries/s" : cfg.mode == M_CONNECT ? "handshakes/s" : "msgs/s";

  printf("{\"tool\":\"loadgen\",\"label\":\"%s\",\"mode\":\"%s\",\"conns\":%d,\"window\":%d,\"size\":%zu,\"type\":\"%s\"",
         cfg.label, MODES[cfg.mode], cfg.mode == M_CONNECT ? cfg.concurrent : cfg.conns, cfg.window, cfg.size,
         cfg.text ? "text" : "binary");
  printf(",\"http\":\"%s\"", cfg.h2 ? "h2c" : "1.1");
  printf(",\"duration_s\":%.3f,\"rate\":%.1f,\"unit\":\"%s\",\"count\":%llu,\"mib_per_s\":%.2f", secs,
         cfg.mode == M_IDLE ? 0.0 : rate, unit, (unsigned long long)count,
         secs > 0 ? (double)bytes_verified / secs / 1048576.0 : 0);
  printf(",\"lat_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f,\"samples\":%llu}",
         h_pct(50), h_pct(90), h_pct(99), h_pct(99.9), (double)hist_max / 1000.0,
         hist_n ? hist_sum / (double)hist_n / 1000.0 : 0, (unsigned long long)hist_n);
  printf(",\"client_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"core_busy_pct\":[%.1f,%.1f]", client_cpu, server_cpu,
         core[0], core[1]);
  printf(",\"errors\":%llu,\"err\":{", (unsigned long long)nerr);
  for (int i = 0; i < E_KINDS; i++) printf("%s\"%s\":%llu", i ? "," : "", ERR_NAMES[i], (unsigned long long)errs[i]);
  printf("},\"opened\":%llu,\"closed_clean\":%llu,\"aborted\":%s", (unsigned long long)opened,
         (unsigned long long)closed_clean, aborted ? "true" : "false");
  if (cfg.mode != M_CONNECT)
    printf(",\"setup_s\":%.3f", setup_done_at ? (double)(setup_done_at - t0) / 1e9 : 0);
  if (cfg.mode == M_IDLE) {
    double per = rss_after >= 0 && rss_before >= 0 ? (double)(rss_after - rss_before) * 1024.0 / cfg.conns : 0;
    printf(",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_conn\":%.0f,\"alive_verified\":%llu", rss_before,
           rss_after, per, (unsigned long long)alive_verified);
  } else if (cfg.pid > 0) {
    printf(",\"server_rss_kb\":%ld", read_proc_field_kb(cfg.pid, "VmRSS"));
  }
  if (cfg.h2)
    printf(",\"h2\":{\"data_frames_out\":%llu,\"data_frames_in\":%llu,\"window_updates_out\":%llu,"
           "\"window_updates_in\":%llu,\"window_stalls\":%llu,\"pings\":%llu}",
           (unsigned long long)h2n.data_out, (unsigned long long)h2n.data_in,
           (unsigned long long)h2n.window_updates_out, (unsigned long long)h2n.window_updates_in,
           (unsigned long long)h2n.stalls, (unsigned long long)h2n.pings);
  printf("}\n");
  fflush(stdout);
  fprintf(stderr, "# %s %s: %.0f %s, p50=%.1fus p99=%.1fus client_cpu=%.1f%% server_cpu=%.1f%% errors=%llu\n",
          cfg.label, MODES[cfg.mode], rate, unit, h_pct(50), h_pct(99), client_cpu, server_cpu,
          (unsigned long long)nerr);
  return nerr || aborted ? 1 : 0;
}
