/* Dumps the destinations of the benchmark's SERVICES services, one GET_DEST
 * dump each (as ipvsadm -S does); prints the wall time in ms and the count. */
#include "common.h"

/* One dump request (GET_SERVICE, or GET_DEST of service s when s >= 0), read
 * to its end; returns the number of data messages. */
static int dump(int fd, int fam, int seq, int cmd, int s) {
  char req[256];
  memset(req, 0, sizeof req);
  struct nlmsghdr *h = (void *)req;
  struct genlmsghdr *g = NLMSG_DATA(h);
  h->nlmsg_type = fam;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = seq;
  g->cmd = cmd;
  g->version = 1;
  char *p = (char *)g + GENL_HDRLEN;
  if (s >= 0) p = svc_nest(p, s);
  h->nlmsg_len = p - req;
  send(fd, req, h->nlmsg_len, 0);
  int count = 0;
  for (int done = 0; !done;) {
    int n = recv(fd, rbuf, sizeof rbuf, 0);
    for (h = (void *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
      count++;
    }
  }
  return count;
}

int main(int argc, char **argv) {
  int services = argc > 1 ? atoi(argv[1]) : 5000, fam, seq = 10, dests = 0;
  int fd = open_ipvs(&fam);
  double t0 = now_ms();
  /* The service dump first, as ipvsadm -S does (same work as the library). */
  dump(fd, fam, ++seq, IPVS_CMD_GET_SERVICE, -1);
  for (int s = 0; s < services; s++) dests += dump(fd, fam, ++seq, IPVS_CMD_GET_DEST, s);
  printf("%.1f %d\n", now_ms() - t0, dests);
  return 0;
}
