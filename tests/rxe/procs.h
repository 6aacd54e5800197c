/*
 * procs.h - the project's programs (examples, tools) run for real as a
 * user would start them: each its own process, its output to files that
 * the test reads when it has ended.
 */
#ifndef VT_PROCS_H
#define VT_PROCS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct vt_proc {
	pid_t pid;
	char out[PATH_MAX], err[PATH_MAX]; /* temporary: stdout, stderr */
};

/* $env/prog, else dir/prog where dir is relative to this runner's own
 * directory (build/tests -> "../examples"). Skips the test when the
 * program was not built and env was not given. */
void vt_prog_path(char *path, size_t len, const char *env, const char *dir,
		  const char *prog);
/* Runs path with the NULL-terminated args (at most 22). */
void vt_proc_start(struct vt_proc *p, const char *path,
		   const char *const *args);
/* Waits (90 s at most) and returns the exit status; *out is its stdout
 * (free() it); both go to stderr when the status is not 0. */
int vt_proc_finish(struct vt_proc *p, const char *name, char **out);
/* The device's address as text: $VIPL_TEST_ADDR, else the NIC's own. */
void vt_device_addr(char *addr, size_t len);

#endif
