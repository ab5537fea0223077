/* The same dump as dump.c (the service dump, then one GET_DEST dump per
 * service), with the destination dumps spread over SOCKETS sockets and
 * submitted through io_uring: per socket a send linked to a recv, then one
 * recv more for as long as its dump has not ended; one io_uring_enter()
 * submits a round and waits for it. It measures what the dumps cost the
 * kernel when the client does not pay a system call per step: under
 * User-Mode Linux a system call costs ~15 us, and a dump waited on one at a
 * time takes three. Prints the wall time in ms and the count. An
 * experiment for the benchmark, not what the library does (docs/cli.md). */
#include "common.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SOCKETS 64
#define RBUF 32768

static int ring;
static unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void ring_setup(unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  ring = syscall(__NR_io_uring_setup, entries, &p);
  if (ring < 0) die("io_uring_setup");
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char *sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
  char *cq = mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
  sqes = mmap(0, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) die("mmap");
  sq_tail = (void *)(sq + p.sq_off.tail);
  sq_mask = (void *)(sq + p.sq_off.ring_mask);
  sq_array = (void *)(sq + p.sq_off.array);
  cq_head = (void *)(cq + p.cq_off.head);
  cq_tail = (void *)(cq + p.cq_off.tail);
  cq_mask = (void *)(cq + p.cq_off.ring_mask);
  cqes = (void *)(cq + p.cq_off.cqes);
}

static void queue(int op, int fd, void *buf, unsigned len, unsigned flags, unsigned long long data) {
  unsigned tail = *sq_tail, i = tail & *sq_mask;
  struct io_uring_sqe *e = &sqes[i];
  memset(e, 0, sizeof *e);
  e->opcode = op;
  e->fd = fd;
  e->addr = (unsigned long)buf;
  e->len = len;
  e->flags = flags;
  e->user_data = data;
  sq_array[i] = i;
  __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* Counts the data messages of a datagram; sets *done at DONE, fails at an error. */
static int messages(char *b, int n, int *done) {
  int count = 0;
  for (struct nlmsghdr *h = (void *)b; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      fprintf(stderr, "dump refused: %s\n", strerror(-((struct nlmsgerr *)NLMSG_DATA(h))->error));
      exit(1);
    }
    if (h->nlmsg_type == NLMSG_DONE) {
      *done = 1;
      break;
    }
    count++;
  }
  return count;
}

static char req[SOCKETS][256];
static char buf[SOCKETS][RBUF];

int main(int argc, char **argv) {
  int services = argc > 1 ? atoi(argv[1]) : 5000, fam = 0, dests = 0, seq = 10;
  int fds[SOCKETS];
  for (int i = 0; i < SOCKETS; i++) fds[i] = open_ipvs(&fam);
  ring_setup(4 * SOCKETS);
  double t0 = now_ms();
  /* The service dump, waited on as dump.c does (the same work). */
  dump(fds[0], fam, ++seq, IPVS_CMD_GET_SERVICE, -1);
  for (int first = 0; first < services; first += SOCKETS) {
    int k = services - first < SOCKETS ? services - first : SOCKETS;
    /* Per socket: its service's dump request, sent, and a recv after it. */
    for (int i = 0; i < k; i++) {
      int len = dump_request(req[i], fam, ++seq, IPVS_CMD_GET_DEST, first + i);
      /* user_data: the socket, and 1 for a recv. */
      queue(IORING_OP_SEND, fds[i], req[i], len, IOSQE_IO_LINK, 2 * i);
      queue(IORING_OP_RECV, fds[i], buf[i], RBUF, 0, 2 * i + 1);
    }
    unsigned queued = 2 * k;
    int open = k; /* dumps not ended */
    while (open > 0) {
      if (syscall(__NR_io_uring_enter, ring, queued, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR) die("io_uring_enter");
      queued = 0;
      for (unsigned head = *cq_head; head != __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE); head++) {
        struct io_uring_cqe *c = &cqes[head & *cq_mask];
        int i = c->user_data / 2, done = 0;
        if (c->res < 0) {
          fprintf(stderr, "%s for service %d: %s\n", c->user_data % 2 ? "recv" : "send", first + i, strerror(-c->res));
          return 1;
        }
        if (c->user_data % 2) {
          dests += messages(buf[i], c->res, &done);
          if (done) open--;
          else {
            /* More of this dump: the recv that drained a part queued the next. */
            queue(IORING_OP_RECV, fds[i], buf[i], RBUF, 0, 2 * i + 1);
            queued++;
          }
        }
        __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
      }
    }
  }
  printf("%.1f %d\n", now_ms() - t0, dests);
  return 0;
}
