#ifndef GROVE_SPAWN_H
#define GROVE_SPAWN_H
#include <sys/types.h>

/// Starts `path` with `argv`/`envp` in its own process group, with `stdin_fd`, `stdout_fd` and
/// `stderr_fd` as its descriptors 0, 1, 2, every other descriptor closed, default signal
/// dispositions and an empty signal mask, in directory `cwd` (NULL: the caller's).
/// Returns 0 and sets `*pid`, or an errno value. posix_spawn, not fork: the server is
/// multi-threaded, and only the spawn family is safe to call there.
int grove_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                int stdin_fd, int stdout_fd, int stderr_fd, const char *cwd);

/// waitpid(pid) retried on EINTR; returns the raw status, or -1 with errno set.
int grove_wait(pid_t pid);

/// Decodes a raw wait status: the exit code, or 128 + the signal number for a killed child.
int grove_exit_code(int status);
/// pipe2(fds, O_CLOEXEC), which Glibc's Swift module does not export.
int grove_pipe_cloexec(int fds[2]);
#endif
