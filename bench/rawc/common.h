/* A minimal raw generic-netlink IPVS client, the floor the library is
 * measured against (bench/library.ts). Written for the benchmark only. */
#ifndef RAWC_COMMON_H
#define RAWC_COMMON_H
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char rbuf[1 << 16];

static char *put(char *p, int type, const void *d, int len) {
  struct nlattr *a = (void *)p;
  a->nla_type = type;
  a->nla_len = 4 + len;
  memcpy(a + 1, d, len);
  return p + NLA_ALIGN(4 + len);
}

/* Opens a generic netlink socket and resolves the IPVS family id. */
static int open_ipvs(int *fam) {
  int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  bind(fd, (void *)&sa, sizeof sa);
  char req[64] = {0};
  struct nlmsghdr *h = (void *)req;
  struct genlmsghdr *g = NLMSG_DATA(h);
  h->nlmsg_type = GENL_ID_CTRL;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = 1;
  g->cmd = CTRL_CMD_GETFAMILY;
  g->version = 1;
  char *p = put((char *)g + GENL_HDRLEN, CTRL_ATTR_FAMILY_NAME, "IPVS", 5);
  h->nlmsg_len = p - req;
  send(fd, req, h->nlmsg_len, 0);
  int n = recv(fd, rbuf, sizeof rbuf, 0);
  h = (void *)rbuf;
  struct nlattr *a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
  *fam = 0;
  for (; (char *)a < rbuf + n; a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
    if (a->nla_type == CTRL_ATTR_FAMILY_ID) *fam = *(unsigned short *)(a + 1);
  return fd;
}

/* Service s of the benchmark table: tcp 203.0.113.(1+s%250):(1000+s/250). */
static char *svc_nest(char *p, int s) {
  struct nlattr *n = (void *)p;
  n->nla_type = IPVS_CMD_ATTR_SERVICE;
  p += 4;
  unsigned short af = AF_INET, pr = IPPROTO_TCP, port = htons(1000 + s / 250);
  unsigned char ad[16] = {203, 0, 113, 1 + (s % 250)};
  p = put(p, IPVS_SVC_ATTR_AF, &af, 2);
  p = put(p, IPVS_SVC_ATTR_PROTOCOL, &pr, 2);
  p = put(p, IPVS_SVC_ATTR_ADDR, ad, 16);
  p = put(p, IPVS_SVC_ATTR_PORT, &port, 2);
  n->nla_len = p - (char *)n;
  return p;
}
/* A dump request (GET_SERVICE, or GET_DEST of service s when s >= 0) written
 * into req; returns its length. */
static inline int dump_request(char *req, int fam, int seq, int cmd, int s) {
  memset(req, 0, 256);
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
  return h->nlmsg_len;
}

/* One dump sent and read to its end, waiting on each part; returns the
 * number of data messages. */
static inline int dump(int fd, int fam, int seq, int cmd, int s) {
  char req[256];
  send(fd, req, dump_request(req, fam, seq, cmd, s), 0);
  int count = 0;
  for (int done = 0; !done;) {
    int n = recv(fd, rbuf, sizeof rbuf, 0);
    for (struct nlmsghdr *h = (void *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
      count++;
    }
  }
  return count;
}
#endif
