/* bpf_common.h: the kernel selftests' kfunc header name; fusebpf's is fuse_bpf.h. */
#ifndef FUSEBPF_BPF_COMMON_H
#define FUSEBPF_BPF_COMMON_H
#include "fuse_bpf.h"
#endif
