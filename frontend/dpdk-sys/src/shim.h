/* The static-inline DPDK functions Rust cannot call directly, as real
 * symbols. Each is a one-line forward: keep them that way. */
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

int sy_rte_errno(void);
uint16_t sy_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t sy_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *sy_pktmbuf_alloc(struct rte_mempool *mp);
int sy_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n);
void sy_pktmbuf_free(struct rte_mbuf *m);
void *sy_mbuf_data(struct rte_mbuf *m);
uint16_t sy_mbuf_data_len(const struct rte_mbuf *m);
uint16_t sy_mbuf_nb_segs(const struct rte_mbuf *m);
char *sy_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int sy_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t sy_pktmbuf_tailroom(const struct rte_mbuf *m);
unsigned sy_lcore_id(void);
