/* Dumps the destinations of the benchmark's SERVICES services, one GET_DEST
 * dump each (as ipvsadm -S does); prints the wall time in ms and the count. */
#include "common.h"

int main(int argc, char **argv) {
  int services = argc > 1 ? atoi(argv[1]) : 5000, fam, seq = 10, dests = 0;
  int fd = open_ipvs(&fam);
  char req[256];
  double t0 = now_ms();
  /* The service dump first, as ipvsadm -S does (same work as the library). */
  {
    memset(req, 0, sizeof req);
    struct nlmsghdr *h = (void *)req;
    struct genlmsghdr *g = NLMSG_DATA(h);
    h->nlmsg_type = fam;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = ++seq;
    g->cmd = IPVS_CMD_GET_SERVICE;
    g->version = 1;
    h->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
    send(fd, req, h->nlmsg_len, 0);
    for (int done = 0; !done;) {
      int n = recv(fd, rbuf, sizeof rbuf, 0);
      for (h = (void *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
    }
  }
  for (int s = 0; s < services; s++) {
    memset(req, 0, sizeof req);
    struct nlmsghdr *h = (void *)req;
    struct genlmsghdr *g = NLMSG_DATA(h);
    h->nlmsg_type = fam;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = ++seq;
    g->cmd = IPVS_CMD_GET_DEST;
    g->version = 1;
    char *p = svc_nest((char *)g + GENL_HDRLEN, s);
    h->nlmsg_len = p - req;
    send(fd, req, h->nlmsg_len, 0);
    for (int done = 0; !done;) {
      int n = recv(fd, rbuf, sizeof rbuf, 0);
      for (h = (void *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = 1;
          break;
        }
        dests++;
      }
    }
  }
  printf("%.1f %d\n", now_ms() - t0, dests);
  return 0;
}
