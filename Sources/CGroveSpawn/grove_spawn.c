#define _GNU_SOURCE
#include "grove_spawn.h"
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>

int grove_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                int stdin_fd, int stdout_fd, int stderr_fd, const char *cwd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) { posix_spawn_file_actions_destroy(&actions); return rc; }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    /* The server's sockets and other requests' pipes must not leak into a tool. */
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!rc && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    /* A group of its own, so a timeout or a disconnect kills everything the tool started;
       the server ignores SIGPIPE, the tool must not inherit that. */
    if (!rc) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                                  POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);
    if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (!rc) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc) rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int grove_wait(pid_t pid) {
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid) return status;
        if (r < 0 && errno == EINTR) continue;
        return -1;
    }
}

int grove_exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

int grove_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
