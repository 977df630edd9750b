package configs

// Seccomp is the normalized linux.seccomp profile (owned by the seccomp work).
type Seccomp struct{}
