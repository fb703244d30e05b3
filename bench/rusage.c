/*
 * rusage — run a command and report the CPU time and peak RSS of that
 * process alone (its threads included; not the benchmark's other
 * processes, not this wrapper).
 *
 *   rusage [-t SECONDS] OUTFILE COMMAND [ARG...]
 *
 * Writes one line to OUTFILE when the command ends:
 *   user_us=U sys_us=S maxrss_kb=M wall_us=W status=X
 * and exits with the command's exit status (128+N if killed by signal N).
 * With -t, a command still running after SECONDS is killed (SIGKILL), so
 * that a hung producer cannot hang the benchmark. wait4() gives the child's
 * own rusage, which is what a shell's `time` reports too; no /usr/bin/time
 * needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

int main(int argc, char **argv)
{
    unsigned timeout_s = 0;
    if (argc > 2 && !strcmp(argv[1], "-t")) {
        timeout_s = (unsigned)strtoul(argv[2], NULL, 10);
        argc -= 2;
        argv += 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: rusage [-t SECONDS] OUTFILE COMMAND [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        fprintf(stderr, "rusage: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    int64_t start = mono_us();
    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage: fork");
        return 2;
    }
    if (pid == 0) {
        fclose(out);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* Let the child take terminal signals; we only wait for it. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    if (timeout_s) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: wait4() returns EINTR */
        sigaction(SIGALRM, &sa, NULL);
        alarm(timeout_s);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("rusage: wait4");
            return 2;
        }
        if (timed_out) {
            fprintf(stderr, "rusage: %s still running after %u s: killed\n", argv[2],
                    timeout_s);
            kill(pid, SIGKILL);
            timed_out = 0;
        }
    }
    int64_t wall = mono_us() - start;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(out, "user_us=%lld sys_us=%lld maxrss_kb=%ld wall_us=%lld status=%d\n",
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss,
            (long long)wall, code);
    fclose(out);
    return code;
}
