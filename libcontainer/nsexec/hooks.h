#ifndef OCIRUN_HOOKS_H
#define OCIRUN_HOOKS_H

// A startContainer hook of the plan (PLAN_HOOK and its ARG/ENV records).
struct hook {
	const char *path;
	char **argv, **envp;
	int argc, envc;
	int timeout; // seconds, 0 for none
};

// run_start_hooks runs each hook with the state pre<getpid()>post on stdin
// and exits, the error on stderr, at the first that fails. A hook without
// env of its own gets env, the process's.
void run_start_hooks(const struct hook *hooks, int n, const char *pre, const char *post, char **env);

#endif
