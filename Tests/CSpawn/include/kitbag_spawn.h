// glibc's GNU extensions to posix_spawn(3) and pipe2(2), which Swift's Glibc module does not declare (they need
// _GNU_SOURCE). For the tests' ChildProcess only.
#ifndef KITBAG_SPAWN_H
#define KITBAG_SPAWN_H

#include <spawn.h>

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up (glibc 2.34).
int kitbag_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);
/// posix_spawn_file_actions_addchdir_np: the child starts in `path` (glibc 2.29).
int kitbag_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);
/// pipe2(fds, O_CLOEXEC): both ends close on exec, atomically.
int kitbag_spawn_pipe_cloexec(int fds[2]);

#endif
