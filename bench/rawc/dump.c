/* Dumps the destinations of the benchmark's SERVICES services, one GET_DEST
 * dump each (as ipvsadm -S does); prints the wall time in ms and the count. */
#include "common.h"

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
