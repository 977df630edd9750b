#ifndef OCIRUN_NSEXEC_H
#define OCIRUN_NSEXEC_H

// Bootstrap record types; keep in sync with nsexec.go.
#define BOOT_CLONE_FLAGS 1
#define BOOT_NS_PATH 2
#define BOOT_TIME_OFFSETS 3
#define BOOT_FORK 4

// The bootstrap frame is small; a larger one is a bug or an attack (CVE-2021-43784).
#define BOOT_MAX (1 << 20)

void ocirun_nsexec(void);

#endif
