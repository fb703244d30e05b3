/* CRC-32C (Castagnoli): hardware-accelerated where the CPU has it. */
#ifndef KP_CRC32C_H
#define KP_CRC32C_H
#include <stddef.h>
#include <stdint.h>
/* Continue a CRC: start with crc = 0. */
uint32_t kp_crc32c(uint32_t crc, const void *data, size_t len);
/* The table implementation, exposed so tests can compare both paths. */
uint32_t kp_crc32c_sw(uint32_t crc, const void *data, size_t len);
int kp_crc32c_hw_available(void);
/* The CRC of A followed by B from crc1 = CRC(A), crc2 = CRC(B) and the
 * length of B: O(log len2), no data touched. */
uint32_t kp_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);
#endif
