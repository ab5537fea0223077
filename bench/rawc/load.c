/* Loads SERVICES x DESTS (NAT, weight 1) with PER messages per sendmsg and
 * an ACK on the last of each; prints the wall time in ms. */
#include "common.h"

static char sbuf[1 << 21];

int main(int argc, char **argv) {
  int services = argc > 1 ? atoi(argv[1]) : 5000, dests = argc > 2 ? atoi(argv[2]) : 10;
  int per = argc > 3 ? atoi(argv[3]) : 256, fam, seq = 100, inbuf = 0, errs = 0;
  int fd = open_ipvs(&fam);
  double t0 = now_ms();
  char *p = sbuf;
  struct nlmsghdr *last = 0, *h;
  for (int s = 0; s < services; s++)
    for (int d = -1; d < dests; d++) {
      h = (void *)p;
      memset(h, 0, sizeof *h + GENL_HDRLEN);
      h->nlmsg_type = fam;
      h->nlmsg_flags = NLM_F_REQUEST;
      h->nlmsg_seq = ++seq;
      struct genlmsghdr *g = NLMSG_DATA(h);
      g->cmd = d < 0 ? IPVS_CMD_NEW_SERVICE : IPVS_CMD_NEW_DEST;
      g->version = 1;
      char *q = (char *)g + GENL_HDRLEN, *ns = q;
      q = svc_nest(q, s);
      if (d < 0) {
        struct ip_vs_flags fl = {0, ~0U};
        unsigned t = 0, m = ~0U;
        q = put(q, IPVS_SVC_ATTR_SCHED_NAME, "wlc", 4);
        q = put(q, IPVS_SVC_ATTR_FLAGS, &fl, 8);
        q = put(q, IPVS_SVC_ATTR_TIMEOUT, &t, 4);
        q = put(q, IPVS_SVC_ATTR_NETMASK, &m, 4);
        ((struct nlattr *)ns)->nla_len = q - ns;
      } else {
        struct nlattr *n3 = (void *)q;
        n3->nla_type = IPVS_CMD_ATTR_DEST;
        q += 4;
        unsigned char ad[16] = {198, 51, 100, 10 + d % 240, 0};
        unsigned short port = htons(80 + d / 240), af = AF_INET;
        unsigned fw = IP_VS_CONN_F_MASQ, w = 1, z = 0;
        q = put(q, IPVS_DEST_ATTR_ADDR_FAMILY, &af, 2);
        q = put(q, IPVS_DEST_ATTR_ADDR, ad, 16);
        q = put(q, IPVS_DEST_ATTR_PORT, &port, 2);
        q = put(q, IPVS_DEST_ATTR_FWD_METHOD, &fw, 4);
        q = put(q, IPVS_DEST_ATTR_WEIGHT, &w, 4);
        q = put(q, IPVS_DEST_ATTR_U_THRESH, &z, 4);
        q = put(q, IPVS_DEST_ATTR_L_THRESH, &z, 4);
        n3->nla_len = q - (char *)n3;
      }
      h->nlmsg_len = q - p;
      last = h;
      p += NLMSG_ALIGN(h->nlmsg_len);
      if (++inbuf == per || (s == services - 1 && d == dests - 1)) {
        last->nlmsg_flags |= NLM_F_ACK;
        send(fd, sbuf, p - sbuf, 0);
        for (int done = 0; !done;) {
          int n = recv(fd, rbuf, sizeof rbuf, 0);
          for (h = (void *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
            if (h->nlmsg_type == NLMSG_ERROR) {
              if (((struct nlmsgerr *)NLMSG_DATA(h))->error) errs++;
              if (h->nlmsg_seq == last->nlmsg_seq) done = 1;
            }
        }
        p = sbuf;
        inbuf = 0;
      }
    }
  printf("%.1f %d\n", now_ms() - t0, errs);
  return errs != 0;
}
