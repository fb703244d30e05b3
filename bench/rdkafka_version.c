/*
 * rdkafka_version — prints the version of the librdkafka that programs
 * linked like rdkafka_perf load at run time (rd_kafka_version_str()), and
 * where its header said it would be; bench/run.sh names it in its report.
 */
#include <stdio.h>

#include <librdkafka/rdkafka.h>

int main(void)
{
    if (rd_kafka_version() != RD_KAFKA_VERSION)
        fprintf(stderr, "rdkafka_version: built against 0x%08x, running 0x%08x\n",
                (unsigned)RD_KAFKA_VERSION, (unsigned)rd_kafka_version());
    printf("%s\n", rd_kafka_version_str());
    return rd_kafka_version() == RD_KAFKA_VERSION ? 0 : 1;
}
